//! Retries: [`RetryPolicy`] for the TalkJS API, applied by [`RetryLayer`].

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::StatusCode;
use tokio::time::Sleep;
use tower::Layer;
use tower::retry::Policy;
use tower::retry::budget::{Budget, TpsBudget};

use crate::error::{BuildError, TimeoutKind, TransportError};
use crate::extensions::{Attempts, Idempotency};
use crate::retry_after::parse_retry_after;
use crate::types::{BoxError, HttpRequest, HttpResponse};

/// The bounds tower's [`TpsBudget`] accepts (it panics outside them).
const MIN_BUDGET_TTL: Duration = Duration::from_secs(1);
const MAX_BUDGET_TTL: Duration = Duration::from_secs(60);
const MAX_RETRY_PERCENT: f32 = 1000.0;
const MAX_MIN_PER_SEC: u32 = i32::MAX.unsigned_abs();

/// The retry budget: how many retries the recent traffic allows.
///
/// Every call deposits into the budget; every retry withdraws. With the defaults, retries add
/// at most 20% to the calls of the last 10 seconds, plus 10 retries per second that are
/// always allowed (so a quiet client still retries).
///
/// Valid values (checked by [`RetryConfig::validate`]): `ttl` from 1 to 60 seconds,
/// `retry_percent` from 0.0 to 1000.0, `min_per_sec` below `i32::MAX`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct RetryBudget {
    /// How long a deposit counts.
    pub ttl: Duration,
    /// Retries per second allowed regardless of traffic.
    pub min_per_sec: u32,
    /// The share of recent calls that may be retried, between 0.0 and 1000.0.
    pub retry_percent: f32,
}

impl RetryBudget {
    /// Sets [`ttl`](Self::ttl).
    #[must_use]
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Sets [`min_per_sec`](Self::min_per_sec).
    #[must_use]
    pub fn min_per_sec(mut self, min_per_sec: u32) -> Self {
        self.min_per_sec = min_per_sec;
        self
    }

    /// Sets [`retry_percent`](Self::retry_percent).
    #[must_use]
    pub fn retry_percent(mut self, retry_percent: f32) -> Self {
        self.retry_percent = retry_percent;
        self
    }
}

impl Default for RetryBudget {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(10),
            min_per_sec: 10,
            retry_percent: 0.2,
        }
    }
}

/// Retry settings.
///
/// ```
/// use std::time::Duration;
/// use talkjs_transport::RetryConfig;
///
/// let config = RetryConfig::default()
///     .max_attempts(6)
///     .base_delay(Duration::from_millis(50))
///     .max_delay(Duration::from_secs(5));
/// assert_eq!(config.max_attempts, 6);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RetryConfig {
    /// Attempts in total, the first included (1: no retry). Default 4.
    pub max_attempts: u32,
    /// The first backoff bound; doubled for every further retry. Default 100 ms.
    pub base_delay: Duration,
    /// The cap of the backoff bound. Default 10 s.
    pub max_delay: Duration,
    /// The longest `Retry-After` the policy waits for; a longer one ends the retries and the
    /// response goes back to the caller. Default 60 s.
    pub max_retry_after: Duration,
    /// The retry budget shared by all services of one layer; `None`: unlimited (only
    /// `max_attempts` bounds retries). Default [`RetryBudget::default`].
    pub budget: Option<RetryBudget>,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
            budget: Some(RetryBudget::default()),
        }
    }
}

impl RetryConfig {
    /// Checks the settings: `max_attempts` at least 1 and a [`RetryBudget`] within its
    /// ranges. [`StackBuilder::build`](crate::StackBuilder::build) and
    /// [`RetryLayer::try_new`] refuse a configuration that fails this check.
    ///
    /// ```
    /// use std::time::Duration;
    /// use talkjs_transport::{RetryBudget, RetryConfig};
    ///
    /// assert!(RetryConfig::default().validate().is_ok());
    /// let short = RetryBudget::default().ttl(Duration::from_millis(500));
    /// assert!(RetryConfig::default().budget(Some(short)).validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), BuildError> {
        if self.max_attempts == 0 {
            return Err(BuildError::Invalid(
                "retry max_attempts is 0; it counts the first attempt, so use 1 for no retries"
                    .to_owned(),
            ));
        }
        let Some(budget) = self.budget else {
            return Ok(());
        };
        if !(MIN_BUDGET_TTL..=MAX_BUDGET_TTL).contains(&budget.ttl) {
            return Err(BuildError::Invalid(format!(
                "retry budget ttl {:?} is outside 1 s ..= 60 s",
                budget.ttl
            )));
        }
        if !(0.0..=MAX_RETRY_PERCENT).contains(&budget.retry_percent) {
            return Err(BuildError::Invalid(format!(
                "retry budget retry_percent {} is outside 0.0 ..= 1000.0",
                budget.retry_percent
            )));
        }
        if budget.min_per_sec >= MAX_MIN_PER_SEC {
            return Err(BuildError::Invalid(format!(
                "retry budget min_per_sec {} is too large (at most {})",
                budget.min_per_sec,
                MAX_MIN_PER_SEC - 1
            )));
        }
        Ok(())
    }

    /// Sets [`max_attempts`](Self::max_attempts).
    #[must_use]
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// Sets [`base_delay`](Self::base_delay).
    #[must_use]
    pub fn base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// Sets [`max_delay`](Self::max_delay).
    #[must_use]
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// Sets [`max_retry_after`](Self::max_retry_after).
    #[must_use]
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// Sets [`budget`](Self::budget).
    #[must_use]
    pub fn budget(mut self, budget: Option<RetryBudget>) -> Self {
        self.budget = budget;
        self
    }

    /// The upper bound of the jittered delay before retry `retry` (1-based):
    /// `min(max_delay, base_delay × 2^(retry−1))`.
    pub fn backoff_bound(&self, retry: u32) -> Duration {
        let factor = 1u32
            .checked_shl(retry.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// Whether another attempt of a request may get another outcome, and for which requests:
/// the rules of [`RetryPolicy`] (the table there), for a response status
/// ([`of_status`](Self::of_status)) or an error ([`of_error`](Self::of_error)).
/// `talkjs_api::Error::is_transient` answers with the same rules.
///
/// ```
/// use talkjs_transport::http::StatusCode;
/// use talkjs_transport::{Idempotency, Retryable};
///
/// assert_eq!(Retryable::of_status(StatusCode::TOO_MANY_REQUESTS), Retryable::Always);
/// assert_eq!(Retryable::of_status(StatusCode::SERVICE_UNAVAILABLE), Retryable::IfIdempotent);
/// assert_eq!(Retryable::of_status(StatusCode::NOT_FOUND), Retryable::Never);
/// assert!(!Retryable::IfIdempotent.allows(Idempotency::NonIdempotent));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Retryable {
    /// Another attempt would meet the same outcome: a 4xx but 429, a 501 or 505, a body over
    /// the size limit, a request refused before it was sent, an error this crate cannot place.
    Never,
    /// Another attempt may succeed, but the request may have been processed: a 5xx (but 501
    /// and 505), a connection reset or closed after sending, an attempt timeout, an error
    /// while reading the answer. Only an idempotent request is tried again.
    IfIdempotent,
    /// Another attempt may succeed, and nothing was processed: a 429 (TalkJS refuses before
    /// processing), a connection that could not be opened (refused, DNS, TLS handshake). Any
    /// request is tried again.
    Always,
}

impl Retryable {
    /// The rule for a response with `status`.
    pub fn of_status(status: StatusCode) -> Self {
        if status == StatusCode::TOO_MANY_REQUESTS {
            Self::Always
        } else if status.is_server_error()
            && status != StatusCode::NOT_IMPLEMENTED
            && status != StatusCode::HTTP_VERSION_NOT_SUPPORTED
        {
            Self::IfIdempotent
        } else {
            Self::Never
        }
    }

    /// The rule for an error of the stack: a [`TransportError`] by its kind; an error of a
    /// custom inner service by the first I/O error in its chain.
    pub fn of_error(error: &(dyn std::error::Error + 'static)) -> Self {
        if let Some(t) = TransportError::find(error) {
            return match t {
                TransportError::Connect { .. } => Self::Always,
                TransportError::Request { .. }
                | TransportError::Body { .. }
                | TransportError::Timeout {
                    kind: TimeoutKind::Attempt,
                    ..
                } => Self::IfIdempotent,
                _ => Self::Never,
            };
        }
        let mut current = Some(error);
        while let Some(e) = current {
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                use std::io::ErrorKind as K;
                return match io.kind() {
                    K::ConnectionRefused => Self::Always,
                    K::ConnectionReset
                    | K::ConnectionAborted
                    | K::BrokenPipe
                    | K::TimedOut
                    | K::UnexpectedEof
                    | K::NotConnected => Self::IfIdempotent,
                    _ => Self::Never,
                };
            }
            current = e.source();
        }
        Self::Never
    }

    /// Whether a request of this idempotency is tried again.
    pub fn allows(self, idempotency: Idempotency) -> bool {
        match self {
            Self::Never => false,
            Self::IfIdempotent => idempotency == Idempotency::Idempotent,
            Self::Always => true,
        }
    }
}

/// The [`Policy`] of [`RetryLayer`].
///
/// What is retried ([`Retryable`] gives each outcome's row: never, if idempotent, always):
///
/// | outcome | idempotent request | non-idempotent request (e.g. an import) |
/// |---|---|---|
/// | `429 Too Many Requests` | yes | yes: TalkJS refuses before processing |
/// | `500`, `502`, `503`, `504` (any 5xx but 501/505) | yes | no: it may have been processed |
/// | connection refused / DNS / TLS handshake ([`TransportError::Connect`]) | yes | yes: nothing was sent |
/// | reset, closed, attempt timeout, body read error | yes | no |
/// | a body over the size limit ([`TransportError::BodyTooLarge`]), a request refused before sending (signing, another origin), a failed rate-limit store | no | no |
/// | `400`, `401`, `403`, `404`, any other 4xx, the deadline, a local rate-limit refusal | no | no |
///
/// Whether a request is idempotent comes from its [`Idempotency`] extension, or from its
/// method (`POST` is not, everything else is). The resource API marks a message send as
/// idempotent when every message carries an idempotency key, and never marks an import.
///
/// Delays use exponential backoff with full jitter: before retry `n` (1-based) the policy
/// sleeps a random duration in `[0, min(max_delay, base_delay × 2^(n−1))]`. A `Retry-After`
/// header (seconds or an HTTP date) on a 429 or 5xx is honoured instead when it asks for
/// more; when it asks for more than [`RetryConfig::max_retry_after`], the response is handed
/// back to the caller at once rather than sleeping that long.
///
/// A [retry budget](RetryConfig::budget) shared by all clones of the layer's services stops a
/// failing server from being hammered: retries may add at most a share of the recent
/// traffic (tower's [`TpsBudget`]).
///
/// The request body is `Bytes`, so a retried request re-sends the same body without copying;
/// headers and extensions are kept, and the inner auth layer signs every attempt afresh.
///
/// One policy value is cloned for every call; it counts that call's attempts. The settings
/// and the budget are shared by all clones. [`RetryLayer`] applies it with tower's
/// [`Retry`](tower::retry::Retry).
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    shared: Arc<PolicyShared>,
    attempts: u32,
}

#[derive(Debug)]
struct PolicyShared {
    config: RetryConfig,
    budget: Option<TpsBudget>,
}

impl RetryPolicy {
    /// A policy with `config` and a fresh budget.
    ///
    /// Never panics: settings that [`RetryConfig::validate`] refuses are brought into range
    /// (`max_attempts` 0 counts as 1; budget values are clamped to their ranges, a NaN
    /// `retry_percent` counts as 0). Use [`try_new`](Self::try_new) to get an error instead.
    pub fn new(config: RetryConfig) -> Self {
        let budget = config.budget.map(|b| {
            let percent = if b.retry_percent.is_nan() {
                0.0
            } else {
                b.retry_percent.clamp(0.0, MAX_RETRY_PERCENT)
            };
            TpsBudget::new(
                b.ttl.clamp(MIN_BUDGET_TTL, MAX_BUDGET_TTL),
                b.min_per_sec.min(MAX_MIN_PER_SEC - 1),
                percent,
            )
        });
        Self {
            shared: Arc::new(PolicyShared { config, budget }),
            attempts: 1,
        }
    }

    /// A policy with `config`, or the error of [`RetryConfig::validate`].
    pub fn try_new(config: RetryConfig) -> Result<Self, BuildError> {
        config.validate()?;
        Ok(Self::new(config))
    }

    /// The settings.
    pub fn config(&self) -> &RetryConfig {
        &self.shared.config
    }

    /// The delay before the next attempt, or `None` to give up. `retry_after` is the server's
    /// wish, if it stated one.
    fn delay(&self, retry_after: Option<Duration>) -> Option<Duration> {
        let config = self.config();
        let bound = config.backoff_bound(self.attempts);
        let jittered = if bound.is_zero() {
            Duration::ZERO
        } else {
            let nanos = u64::try_from(bound.as_nanos()).unwrap_or(u64::MAX);
            Duration::from_nanos(fastrand::u64(0..=nanos))
        };
        match retry_after {
            Some(wish) if wish > config.max_retry_after => None,
            Some(wish) => Some(wish.max(jittered)),
            None => Some(jittered),
        }
    }

    /// Ends the retries: records the attempts on a response and says why.
    fn give_up(&self, result: &mut Result<HttpResponse, BoxError>, why: &str) -> Option<Sleep> {
        tracing::debug!(attempts = self.attempts, why, "not retrying");
        if let Ok(response) = result {
            Attempts::record(response, self.attempts);
        }
        None
    }
}

impl Policy<HttpRequest, HttpResponse, BoxError> for RetryPolicy {
    type Future = Sleep;

    fn retry(
        &mut self,
        req: &mut HttpRequest,
        result: &mut Result<HttpResponse, BoxError>,
    ) -> Option<Self::Future> {
        let budget = self.shared.budget.as_ref();
        if self.attempts == 1 {
            if let Some(budget) = budget {
                budget.deposit();
            }
        }
        let (retryable, retry_after) = match result {
            Ok(response) => {
                let retryable = Retryable::of_status(response.status());
                if retryable == Retryable::Never {
                    Attempts::record(response, self.attempts);
                    return None;
                }
                (
                    retryable,
                    parse_retry_after(response.headers(), SystemTime::now()),
                )
            }
            Err(error) => match Retryable::of_error(error.as_ref()) {
                Retryable::Never => return None,
                retryable => (retryable, None),
            },
        };
        if !retryable.allows(Idempotency::of(req)) {
            return self.give_up(
                result,
                "the request is not idempotent and may have been processed",
            );
        }
        if self.attempts >= self.config().max_attempts {
            return self.give_up(result, "maximum attempts reached");
        }
        let Some(delay) = self.delay(retry_after) else {
            return self.give_up(result, "Retry-After is longer than the maximum");
        };
        if budget.is_some_and(|budget| !budget.withdraw()) {
            return self.give_up(result, "retry budget exhausted");
        }
        match result {
            Ok(response) => tracing::debug!(
                status = response.status().as_u16(),
                attempt = self.attempts,
                ?delay,
                "retrying"
            ),
            Err(error) => tracing::debug!(%error, attempt = self.attempts, ?delay, "retrying"),
        }
        #[cfg(feature = "metrics")]
        crate::metrics::retry(req, result);
        self.attempts += 1;
        // The request of the next attempt says which it is (for layers below).
        req.extensions_mut().insert(Attempts(self.attempts));
        Some(tokio::time::sleep(delay))
    }

    fn clone_request(&mut self, req: &HttpRequest) -> Option<HttpRequest> {
        // Bytes body: a clone shares the buffer. Headers and extensions come along.
        (self.config().max_attempts > 1).then(|| req.clone())
    }
}

/// Layer applying [`RetryPolicy`] with tower's [`Retry`](tower::retry::Retry). Every
/// service it builds, and every clone of those, shares one retry budget.
///
/// ```
/// use talkjs_transport::{RetryConfig, RetryLayer};
/// use tower::ServiceBuilder;
///
/// let svc = ServiceBuilder::new()
///     .layer(RetryLayer::new(RetryConfig::default()))
///     .service_fn(|_req: talkjs_transport::HttpRequest| async {
///         Ok::<_, talkjs_transport::BoxError>(talkjs_transport::HttpResponse::new(talkjs_transport::bytes::Bytes::new()))
///     });
/// # drop(svc);
/// ```
#[derive(Debug, Clone)]
pub struct RetryLayer {
    policy: RetryPolicy,
}

impl RetryLayer {
    /// A layer with `config`; out-of-range settings are brought into range as
    /// [`RetryPolicy::new`] says. [`try_new`](Self::try_new) refuses them instead.
    pub fn new(config: RetryConfig) -> Self {
        Self {
            policy: RetryPolicy::new(config),
        }
    }

    /// A layer with `config`, or the error of [`RetryConfig::validate`].
    pub fn try_new(config: RetryConfig) -> Result<Self, BuildError> {
        RetryPolicy::try_new(config).map(Self::from_policy)
    }

    /// A layer with an existing policy (sharing its budget).
    pub fn from_policy(policy: RetryPolicy) -> Self {
        Self { policy }
    }
}

impl<S> Layer<S> for RetryLayer {
    type Service = tower::retry::Retry<RetryPolicy, S>;

    fn layer(&self, inner: S) -> Self::Service {
        tower::retry::Retry::new(self.policy.clone(), inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_bounds_double_and_cap() {
        let c = RetryConfig::default();
        assert_eq!(c.backoff_bound(1), Duration::from_millis(100));
        assert_eq!(c.backoff_bound(2), Duration::from_millis(200));
        assert_eq!(c.backoff_bound(4), Duration::from_millis(800));
        assert_eq!(c.backoff_bound(8), Duration::from_secs(10));
        assert_eq!(c.backoff_bound(200), Duration::from_secs(10));
    }

    #[test]
    fn statuses() {
        assert_eq!(
            Retryable::of_status(StatusCode::TOO_MANY_REQUESTS),
            Retryable::Always
        );
        for s in [500, 502, 503, 504] {
            assert_eq!(
                Retryable::of_status(StatusCode::from_u16(s).unwrap_or_default()),
                Retryable::IfIdempotent,
                "{s}"
            );
        }
        for s in [400, 401, 403, 404, 409, 422, 200, 501, 505] {
            assert_eq!(
                Retryable::of_status(StatusCode::from_u16(s).unwrap_or_default()),
                Retryable::Never,
                "{s}"
            );
        }
    }

    #[test]
    fn io_errors_in_the_chain() {
        let refused: BoxError =
            Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        let reset: BoxError = Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        let other: BoxError = "boom".into();
        assert_eq!(Retryable::of_error(refused.as_ref()), Retryable::Always);
        assert_eq!(Retryable::of_error(reset.as_ref()), Retryable::IfIdempotent);
        assert_eq!(Retryable::of_error(other.as_ref()), Retryable::Never);
        let connect: BoxError = Box::new(TransportError::Connect {
            source: "refused".into(),
        });
        assert_eq!(Retryable::of_error(connect.as_ref()), Retryable::Always);
        let deadline: BoxError = Box::new(TransportError::Timeout {
            kind: TimeoutKind::Deadline,
            after: Duration::ZERO,
        });
        assert_eq!(Retryable::of_error(deadline.as_ref()), Retryable::Never);
    }

    #[test]
    fn which_requests_each_rule_allows() {
        use Idempotency::{Idempotent, NonIdempotent};
        assert!(Retryable::Always.allows(Idempotent) && Retryable::Always.allows(NonIdempotent));
        assert!(Retryable::IfIdempotent.allows(Idempotent));
        assert!(!Retryable::IfIdempotent.allows(NonIdempotent));
        assert!(!Retryable::Never.allows(Idempotent) && !Retryable::Never.allows(NonIdempotent));
    }
}
