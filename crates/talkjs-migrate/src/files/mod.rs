//! Attachments: downloading a source message's file (a plain GET of its URL, following
//! redirects) so that it can be uploaded to the target.
//!
//! A URL from an export file or a source app is not trusted. The download client guards
//! against what such a URL could reach or cost:
//!
//! - **Addresses.** Loopback, private (RFC 1918, unique-local `fc00::/7`), link-local
//!   (`169.254.0.0/16`, `fe80::/10`), shared (carrier-grade NAT, `100.64.0.0/10`),
//!   unspecified, broadcast, multicast and reserved addresses, and IPv4-mapped (or embedded)
//!   forms of them, are refused unless `Downloader` allows private hosts
//!   (`Migration::allow_private_file_hosts`). Cloud metadata addresses (`169.254.169.254`,
//!   `169.254.170.2`, `100.100.100.200`, `fd00:ec2::254`) are refused always. The check is
//!   made on the addresses the connection uses: an IP-literal host is checked before any
//!   connection, a name is resolved by `GuardedResolver`, which hands the connector only
//!   the addresses that pass (so a name that resolves to `127.0.0.1`, or that is rebound
//!   between two lookups, never gets a connection there). Every redirect goes through the
//!   same checks.
//! - **Downgrades.** A redirect from https to plain http is refused.
//! - **Memory.** A file larger than `MAX_ATTACHMENT_BYTES` fails its message (refused on
//!   its `Content-Length` before its body is read, or when the body grows past it), and the
//!   downloads of a run share a budget of `DOWNLOAD_MEMORY_BYTES`: before reading a body, a
//!   download reserves its `Content-Length` (or the whole per-file limit when the length is
//!   unknown, giving back what it did not use once read) and holds the reservation until its
//!   bytes are uploaded. Each download reserves once, all it needs, so downloads never wait
//!
//! | file | what it does |
//! |---|---|
//! | `download` | the download client, and a download within its limits |
//! | `budget` | the memory budget the downloads share |
//! | `guard` | which hosts are refused, and the resolver that refuses them |
//! | `urls` | URLs as shown, redirects, file names and content types |
//! | `error` | why a file could not be carried |

mod budget;
mod download;
mod error;
mod guard;
mod urls;

pub(crate) use download::{Downloader, download, downloader};
pub(crate) use error::FileError;
pub(crate) use urls::shown;
