//! `talkjs fake serve`: the in-memory fake TalkJS server.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use serde_json::json;
use talkjs_fake::{FakeTalkJs, Faults, RateLimitConfig, WebhookFaults};

use super::Ctx;
use crate::cli::{FakeCommand, FaultArgs, Format, WebhookFaultArgs};
use crate::error::CliError;

pub async fn run(ctx: &mut Ctx, cmd: FakeCommand) -> Result<(), CliError> {
    let FakeCommand::Serve {
        port,
        rate_limit,
        faults,
        webhook_url,
        max_import_batch,
        webhook_faults,
    } = cmd;
    let faults = to_faults(&faults)?;
    let webhook_faults = to_webhook_faults(&webhook_faults, faults.seed)?;
    let mut builder = FakeTalkJs::builder()
        .port(port)
        .faults(faults)
        .max_import_batch(usize::from(max_import_batch));
    if let Some(url) = &webhook_url {
        builder = builder.webhook_url(url).webhook_faults(webhook_faults);
    }
    // Only credentials typed on this command line: a real secret key from the environment
    // must not become the key of a test server.
    if ctx.explicit.app_id {
        if let Some(app_id) = &ctx.global.app_id {
            builder = builder.app_id(app_id);
        }
    }
    let given_secret = ctx
        .global
        .secret_key
        .as_ref()
        .filter(|_| ctx.explicit.secret_key);
    if let Some(secret) = given_secret {
        builder = builder.secret_key(secret.expose());
    }
    if rate_limit {
        builder = builder.rate_limit(RateLimitConfig::TALKJS);
    }
    let fake = builder.start().await.map_err(|e| match e {
        talkjs_fake::Error::Config(msg) => CliError::Usage(format!("fake serve: {msg}")),
        other => CliError::Failed(format!("cannot start the fake server: {other}")),
    })?;
    // A key the user typed is not echoed; a random one is the only way to learn it.
    let secret_shown = if given_secret.is_some() {
        None
    } else {
        Some(fake.secret_key())
    };
    // JSON only when asked for: the README promises the `export` lines otherwise, also
    // when standard output is a file or a pipe (`talkjs fake serve > fake.env`).
    let explicit = ctx.out.explicit();
    match explicit.unwrap_or(Format::Table) {
        Format::Json | Format::Jsonl => {
            // One line, so that a script can read it before the server stops.
            let mut info = json!({ "baseUrl": fake.base_url(), "appId": fake.app_id() });
            if let Some(object) = info.as_object_mut() {
                if let Some(secret) = secret_shown {
                    object.insert("secretKey".into(), secret.into());
                }
                if faults.is_active() || webhook_faults.is_active() {
                    object.insert("faultSeed".into(), faults.seed.into());
                }
                if faults.is_active() {
                    object.insert("faults".into(), faults_json(&faults));
                }
            }
            ctx.out.raw(&format!("{info}\n"))?;
        }
        Format::Table => {
            let secret_line = secret_shown.unwrap_or("(the one given with --secret-key)");
            let mut text = format!(
                "TalkJS fake server running (Ctrl-C to stop)\nbase URL:   {}\napp id:     {}\nsecret key: {secret_line}\n\nexport TALKJS_BASE_URL={}\nexport TALKJS_APP_ID={}\n",
                fake.base_url(),
                fake.app_id(),
                fake.base_url(),
                fake.app_id(),
            );
            if let Some(secret) = secret_shown {
                text.push_str("export TALKJS_SECRET_KEY=");
                text.push_str(secret);
                text.push('\n');
            }
            if faults.is_active() || webhook_faults.is_active() {
                text.push_str(&describe(&faults, webhook_url.as_deref(), &webhook_faults));
            }
            if explicit.is_none() && !ctx.out.is_terminal() {
                // Into a file: one that a shell can `source` (the rest as comments).
                text = sourceable(&text);
            }
            ctx.out.raw(&text)?;
        }
    }
    ctx.out.flush()?;
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| CliError::Failed(format!("cannot wait for Ctrl-C: {e}")))?;
    fake.shutdown();
    Ok(())
}

/// `text` with every line that is not empty and not an `export` line made a `#` comment, so
/// that a shell can `source` it.
fn sourceable(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.lines() {
        if !line.is_empty() && !line.starts_with("export ") {
            out.push_str("# ");
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The faults of the command line; a random seed unless one is given. The shares of the
/// faults a request can get (at most one each) may not add up to more than 1.
fn to_faults(args: &FaultArgs) -> Result<Faults, CliError> {
    let shares = [
        ("--reset-rate", args.reset_rate),
        ("--error-rate", args.error_rate),
        ("--late-write-rate", args.late_write_rate),
        ("--slow-rate", args.slow_rate),
        ("--throttle-rate", args.throttle_rate),
    ];
    let total: f64 = shares.iter().map(|(_, rate)| rate).sum();
    // A little slack for decimal shares that add up to exactly 1 (0.7 + 0.2 + 0.1).
    if total > 1.0 + 1e-9 {
        let given: Vec<String> = shares
            .iter()
            .filter(|(_, rate)| *rate > 0.0)
            .map(|(flag, rate)| format!("{flag} {rate}"))
            .collect();
        return Err(CliError::Usage(format!(
            "fake serve: {} add up to {}, more than 1 (each request gets at most one of these \
             faults, so their shares must fit in 1)",
            given.join(", "),
            (total * 1e6).round() / 1e6
        )));
    }
    let seed = args.fault_seed.unwrap_or_else(|| {
        // Random enough to vary between runs; printed, so that a run can be replayed.
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    });
    Ok(Faults::seeded(seed)
        .error_rate(args.error_rate)
        .reset_rate(args.reset_rate)
        .latency(Duration::from_millis(args.latency))
        .latency_jitter(Duration::from_millis(args.latency_jitter))
        .late_write_rate(args.late_write_rate)
        .late_write_delay(Duration::from_millis(args.late_write_delay))
        .late_write_jitter(Duration::from_millis(args.late_write_jitter))
        .listing_lag(Duration::from_millis(args.listing_lag))
        .clock_skew_ms(args.clock_skew)
        .slow_rate(args.slow_rate)
        .slow_delay(Duration::from_millis(args.slow_delay))
        .throttle_rate(args.throttle_rate))
}

/// Milliseconds as a JSON number (saturating: the flags are milliseconds in a `u64`).
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The request faults as JSON, for `--output json`: every setting, by the name of its
/// flag in camel case (durations in milliseconds).
fn faults_json(faults: &Faults) -> serde_json::Value {
    json!({
        "errorRate": faults.error_rate,
        "resetRate": faults.reset_rate,
        "latencyMs": millis(faults.latency),
        "latencyJitterMs": millis(faults.latency_jitter),
        "lateWriteRate": faults.late_write_rate,
        "lateWriteDelayMs": millis(faults.late_write_delay),
        "lateWriteJitterMs": millis(faults.late_write_jitter),
        "listingLagMs": millis(faults.listing_lag),
        "clockSkewMs": faults.clock_skew_ms,
        "slowRate": faults.slow_rate,
        "slowDelayMs": millis(faults.slow_delay),
        "throttleRate": faults.throttle_rate,
    })
}

/// The webhook faults of the command line, drawn from the same seed as the request faults.
fn to_webhook_faults(args: &WebhookFaultArgs, seed: u64) -> Result<WebhookFaults, CliError> {
    if args.webhook_drop_rate + args.webhook_duplicate_rate > 1.0 {
        return Err(CliError::Usage(
            "fake serve: --webhook-drop-rate and --webhook-duplicate-rate add up to more than 1"
                .into(),
        ));
    }
    Ok(WebhookFaults::seeded(seed)
        .drop_rate(args.webhook_drop_rate)
        .duplicate_rate(args.webhook_duplicate_rate)
        .delay(Duration::from_millis(args.webhook_delay))
        .delay_jitter(Duration::from_millis(args.webhook_delay_jitter))
        .reorder(args.webhook_reorder))
}

/// One line about the faults, for people, to copy onto a command line that replays the run:
/// the request faults (the first four always, the others when set) and the seed, then
/// --webhook-url and the webhook faults that are set (webhook faults take effect with a URL
/// only).
fn describe(faults: &Faults, webhook_url: Option<&str>, webhook: &WebhookFaults) -> String {
    use std::fmt::Write as _;
    let mut line = format!(
        "\nfaults: --error-rate {} --reset-rate {} --latency {} --latency-jitter {}",
        faults.error_rate,
        faults.reset_rate,
        faults.latency.as_millis(),
        faults.latency_jitter.as_millis(),
    );
    let rate = |r: f64| (r > 0.0).then(|| r.to_string());
    let delay = |d: Duration| (!d.is_zero()).then(|| d.as_millis().to_string());
    let optional = [
        ("--late-write-rate", rate(faults.late_write_rate)),
        ("--late-write-delay", delay(faults.late_write_delay)),
        ("--late-write-jitter", delay(faults.late_write_jitter)),
        ("--listing-lag", delay(faults.listing_lag)),
        (
            "--clock-skew",
            (faults.clock_skew_ms != 0).then(|| faults.clock_skew_ms.to_string()),
        ),
        ("--slow-rate", rate(faults.slow_rate)),
        ("--slow-delay", delay(faults.slow_delay)),
        ("--throttle-rate", rate(faults.throttle_rate)),
    ];
    for (flag, value) in optional {
        if let Some(value) = value {
            let _ = write!(line, " {flag} {value}");
        }
    }
    let _ = write!(line, " --fault-seed {}", faults.seed);
    if let Some(url) = webhook_url {
        let _ = write!(line, " --webhook-url {}", shell_word(url));
        if webhook.drop_rate > 0.0 {
            let _ = write!(line, " --webhook-drop-rate {}", webhook.drop_rate);
        }
        if webhook.duplicate_rate > 0.0 {
            let _ = write!(line, " --webhook-duplicate-rate {}", webhook.duplicate_rate);
        }
        if !webhook.delay.is_zero() {
            let _ = write!(line, " --webhook-delay {}", webhook.delay.as_millis());
        }
        if !webhook.delay_jitter.is_zero() {
            let _ = write!(
                line,
                " --webhook-delay-jitter {}",
                webhook.delay_jitter.as_millis()
            );
        }
        if webhook.reorder {
            line.push_str(" --webhook-reorder");
        }
    }
    line.push('\n');
    line
}

/// `text` as one word of a POSIX shell command line: as it is when that is safe, else in
/// single quotes.
fn shell_word(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_gives_the_flags_that_replay_the_run_webhook_faults_included() {
        let faults = Faults::seeded(7)
            .error_rate(0.1)
            .latency(Duration::from_millis(5));
        let none = WebhookFaults::seeded(7);
        assert_eq!(
            describe(&faults, None, &none),
            "\nfaults: --error-rate 0.1 --reset-rate 0 --latency 5 --latency-jitter 0 --fault-seed 7\n"
        );
        assert_eq!(
            describe(&faults, Some("http://127.0.0.1:9/hook"), &none),
            "\nfaults: --error-rate 0.1 --reset-rate 0 --latency 5 --latency-jitter 0 --fault-seed 7 --webhook-url http://127.0.0.1:9/hook\n"
        );
        let webhook = WebhookFaults::seeded(7)
            .drop_rate(0.2)
            .duplicate_rate(0.3)
            .delay(Duration::from_millis(40))
            .delay_jitter(Duration::from_millis(15))
            .reorder(true);
        assert_eq!(
            describe(&faults, Some("http://h/x?a=1&b=it's"), &webhook),
            "\nfaults: --error-rate 0.1 --reset-rate 0 --latency 5 --latency-jitter 0 --fault-seed 7 \
             --webhook-url 'http://h/x?a=1&b=it'\\''s' --webhook-drop-rate 0.2 \
             --webhook-duplicate-rate 0.3 --webhook-delay 40 --webhook-delay-jitter 15 \
             --webhook-reorder\n"
        );
        // The new request faults when they are set, before the seed.
        let mean = Faults::seeded(9)
            .late_write_rate(0.1)
            .late_write_delay(Duration::from_millis(1500))
            .late_write_jitter(Duration::from_millis(500))
            .listing_lag(Duration::from_secs(1))
            .clock_skew_ms(-1500)
            .slow_rate(0.05)
            .slow_delay(Duration::from_secs(31))
            .throttle_rate(0.2);
        assert_eq!(
            describe(&mean, None, &none),
            "\nfaults: --error-rate 0 --reset-rate 0 --latency 0 --latency-jitter 0 \
             --late-write-rate 0.1 --late-write-delay 1500 --late-write-jitter 500 \
             --listing-lag 1000 --clock-skew -1500 --slow-rate 0.05 --slow-delay 31000 \
             --throttle-rate 0.2 --fault-seed 9\n"
        );
        // Only the flags that are set.
        let late = WebhookFaults::seeded(7).delay(Duration::from_millis(3));
        assert!(
            describe(&Faults::seeded(7), Some("http://h/"), &late)
                .ends_with("--fault-seed 7 --webhook-url http://h/ --webhook-delay 3\n")
        );
    }
}
