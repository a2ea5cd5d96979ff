use std::sync::Arc;
use talkjs::transport::RateLimiter;
use talkjs_ratelimit_redis::RedisStore;

fn client(app_id: &str, secret: &str) -> Result<talkjs::Client, Box<dyn std::error::Error>> {
    let store = RedisStore::builder()
        .replicas(4) // only used during a Redis outage: each replica takes a quarter
        .open(std::env::var("REDIS_URL")?)?;
    let client = talkjs::Client::builder(app_id, secret)
        .rate_limiter(Some(RateLimiter::new(app_id).with_store(Arc::new(store))))
        .build()?;
    Ok(client)
}
