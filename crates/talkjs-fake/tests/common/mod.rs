//! A tiny raw HTTP client for driving the fake (deliberately not the talkjs client crates).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use talkjs_fake::{Builder, FakeTalkJs};

/// A response, read completely.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub body: Value,
}

/// The fake plus a client for it.
pub struct Api {
    pub fake: FakeTalkJs,
    pub client: Client<HttpConnector, Full<Bytes>>,
}

impl Api {
    pub async fn start() -> Self {
        Self::with(FakeTalkJs::builder()).await
    }

    pub async fn with(builder: Builder) -> Self {
        let fake = builder.start().await.expect("fake starts");
        Self {
            fake,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// `{base}/v1/{app}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.fake.app_url())
    }

    /// Sends a request; `Err` when the connection failed without an answer.
    pub async fn send(
        &self,
        request: Request<Full<Bytes>>,
    ) -> Result<Resp, hyper_util::client::legacy::Error> {
        let response = self.client.request(request).await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Resp {
            status,
            headers,
            text,
            body,
        })
    }

    /// A request to `path` (relative to the app) with a fresh app token and a JSON body,
    /// as TalkJS wants it: every method but GET carries `Content-Type: application/json`,
    /// also without a body (then the body is empty).
    pub fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Request<Full<Bytes>> {
        let content_type = (method != Method::GET).then_some("application/json");
        let bytes = body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string()));
        self.raw_request(method, path, content_type, bytes)
    }

    /// A request to `path` with a fresh app token, exactly this `Content-Type` (or none)
    /// and these body bytes.
    pub fn raw_request(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<Bytes>,
    ) -> Request<Full<Bytes>> {
        let token = self.fake.app_token().unwrap();
        let mut builder = Request::builder()
            .method(method)
            .uri(self.url(path))
            .header("authorization", format!("Bearer {token}"));
        if let Some(content_type) = content_type {
            builder = builder.header("content-type", content_type);
        }
        builder.body(Full::new(body.into())).unwrap()
    }

    /// Sends [`Api::raw_request`], expecting an answer.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<Bytes>,
    ) -> Resp {
        self.send(self.raw_request(method, path, content_type, body))
            .await
            .expect("an answer")
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Resp {
        self.send(self.request(method, path, body))
            .await
            .expect("an answer")
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.call(Method::GET, path, None).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Resp {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Resp {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.call(Method::DELETE, path, None).await
    }

    /// Creates users `ids` (named after their id), asserting success.
    pub async fn users(&self, ids: &[&str]) {
        for id in ids {
            let r = self
                .put(&format!("/users/{id}"), &serde_json::json!({ "name": id }))
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
        }
    }

    /// Creates conversation `id` with `participants`, asserting success.
    pub async fn conversation(&self, id: &str, participants: &[&str]) {
        let r = self
            .put(
                &format!("/conversations/{id}"),
                &serde_json::json!({ "participants": participants }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }

    /// Sends one user message, returning its id.
    pub async fn say(&self, conversation: &str, sender: &str, text: &str) -> String {
        let r = self
            .post(
                &format!("/conversations/{conversation}/messages"),
                &serde_json::json!([{ "type": "UserMessage", "sender": sender, "text": text }]),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body[0]["id"].as_str().unwrap().to_owned()
    }
}

/// Asserts a 4xx/5xx body has the documented error shape.
pub fn assert_error(r: &Resp, status: u16) {
    assert_eq!(r.status, status, "{}", r.text);
    assert!(r.body["errorCode"].is_string(), "{}", r.text);
    assert!(r.body["reasons"].is_array(), "{}", r.text);
}
