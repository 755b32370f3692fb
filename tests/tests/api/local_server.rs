//! Real HTTP against the local server: routing, local JWTs, CORS, limits.

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use local::jwt::LocalJwt;
use serde_json::{json, Map, Value};
use testkit::{http, new_job, start_local_server, OWNER};

const ORIGIN: &str = "http://localhost:5173";

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test]
async fn the_whole_flow_over_http_with_and_without_trailing_slashes() {
    let (addr, _api) = start_local_server(ORIGIN).await;
    let job = new_job(OWNER, &[]).await;
    let auth = bearer(&LocalJwt::new("test-jwt-secret").token(OWNER, &[], 60));
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let base = format!("/api/jobs/{job}/quote-chat");

    let created = http(
        addr,
        "POST",
        &base,
        &headers,
        br#"{"message_id":"u1","role":"user","content":"hi"}"#,
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.header("content-type"), Some("application/json"));
    let patched = http(
        addr,
        "PATCH",
        &format!("{base}/u1"),
        &headers,
        br#"{"content":"hello"}"#,
    )
    .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(patched.header("etag"), Some("\"2\""));
    let listed = http(addr, "GET", &format!("{base}/"), &headers, b"").await;
    assert_eq!(listed.body["data"]["messages"][0]["content"], "hello");
    let cleared = http(addr, "DELETE", &format!("{base}/"), &headers, b"").await;
    assert_eq!(cleared.body["data"]["deleted_count"], 1);
}

#[tokio::test]
async fn missing_expired_forged_and_foreign_tokens_are_401() {
    let (addr, _api) = start_local_server(ORIGIN).await;
    let job = new_job(OWNER, &[]).await;
    let path = format!("/api/jobs/{job}/quote-chat/");
    let good = LocalJwt::new("test-jwt-secret");
    let cases = [
        None,
        Some(bearer(&good.token(OWNER, &[], -300))),
        Some(bearer(&LocalJwt::new("wrong-secret").token(OWNER, &[], 60))),
        Some(bearer("not.a.jwt")),
        Some(format!("Basic {}", good.token(OWNER, &[], 60))),
    ];
    for auth in cases {
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("authorization", a.as_str())).collect();
        let reply = http(addr, "GET", &path, &headers, b"").await;
        assert_eq!(reply.status, 401, "{auth:?}");
        assert_eq!(reply.body["code"], "UNAUTHENTICATED");
    }
    let staff = bearer(&good.token("someone", &["staff".into()], 60));
    let reply = http(
        addr,
        "GET",
        &path,
        &[("authorization", staff.as_str())],
        b"",
    )
    .await;
    assert_eq!(
        reply.status, 200,
        "a staff token's groups reach the handler as API Gateway passes them"
    );
}

/// A token signed with the server's key (HS256 unless `algorithm` says otherwise) whose
/// claims are a valid owner's, changed by `change`.
fn crafted(algorithm: Algorithm, change: impl FnOnce(&mut Map<String, Value>)) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut claims = Map::new();
    claims.insert("sub".into(), OWNER.into());
    claims.insert("iss".into(), local::jwt::ISSUER.into());
    claims.insert("aud".into(), local::jwt::AUDIENCE.into());
    claims.insert("iat".into(), now.into());
    claims.insert("exp".into(), (now + 60).into());
    change(&mut claims);
    let key = EncodingKey::from_secret(b"test-jwt-secret");
    jsonwebtoken::encode(&Header::new(algorithm), &claims, &key).expect("token signed")
}

#[tokio::test]
async fn hostile_tokens_are_401_over_http_and_a_well_formed_one_is_not() {
    let (addr, _api) = start_local_server(ORIGIN).await;
    let job = new_job(OWNER, &[]).await;
    let path = format!("/api/jobs/{job}/quote-chat/");
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let now = chrono::Utc::now().timestamp();
    let valid = crafted(Algorithm::HS256, |_| {});
    let payload = valid.split('.').nth(1).unwrap_or_default().to_owned();
    let cases = [
        (
            "nbf in the future",
            bearer(&crafted(Algorithm::HS256, |c| {
                c.insert("nbf".into(), (now + 300).into());
            })),
        ),
        (
            "another issuer",
            bearer(&crafted(Algorithm::HS256, |c| {
                c.insert("iss".into(), "https://evil.example".into());
            })),
        ),
        (
            "another audience",
            bearer(&crafted(Algorithm::HS256, |c| {
                c.insert("aud".into(), "someone-else".into());
            })),
        ),
        (
            "no sub",
            bearer(&crafted(Algorithm::HS256, |c| {
                c.remove("sub");
            })),
        ),
        (
            "HS512 with the same key",
            bearer(&crafted(Algorithm::HS512, |_| {})),
        ),
        (
            "alg none, unsigned",
            bearer(&format!(
                "{}.{payload}.",
                b64.encode(r#"{"alg":"none","typ":"JWT"}"#)
            )),
        ),
        ("RS256 header on an HMAC signature", {
            let signature = valid.rsplit('.').next().unwrap_or_default();
            bearer(&format!(
                "{}.{payload}.{signature}",
                b64.encode(r#"{"alg":"RS256","typ":"JWT"}"#)
            ))
        }),
        ("huge", bearer(&"a".repeat(64 * 1024))),
        ("empty", "Bearer ".to_owned()),
        ("empty parts", bearer("..")),
    ];
    for (what, auth) in &cases {
        let reply = http(addr, "GET", &path, &[("authorization", auth.as_str())], b"").await;
        assert_eq!(
            (reply.status, &reply.body["code"]),
            (401, &json!("UNAUTHENTICATED")),
            "{what}"
        );
    }
    let reply = http(
        addr,
        "GET",
        &path,
        &[("authorization", bearer(&valid).as_str())],
        b"",
    )
    .await;
    assert_eq!(reply.status, 200, "the crafted token itself is good");
}

#[tokio::test]
async fn cors_preflight_and_headers_on_every_response_for_allowed_origins() {
    let (addr, _api) = start_local_server(ORIGIN).await;
    let job = new_job(OWNER, &[]).await;
    let path = format!("/api/jobs/{job}/quote-chat/");
    let preflight = http(
        addr,
        "OPTIONS",
        &path,
        &[
            ("origin", ORIGIN),
            ("access-control-request-method", "PATCH"),
            (
                "access-control-request-headers",
                "authorization,content-type,if-match",
            ),
        ],
        b"",
    )
    .await;
    assert_eq!(preflight.status, 204);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some(ORIGIN)
    );
    assert!(preflight
        .header("access-control-allow-methods")
        .unwrap()
        .contains("PATCH"));
    assert!(preflight
        .header("access-control-allow-headers")
        .unwrap()
        .contains("if-match"));

    for (method, p) in [
        ("GET", path.as_str()),
        ("GET", "/nowhere"),
        ("PUT", path.as_str()),
    ] {
        let reply = http(addr, method, p, &[("origin", ORIGIN)], b"").await;
        assert!(reply.status >= 400);
        assert_eq!(
            reply.header("access-control-allow-origin"),
            Some(ORIGIN),
            "{method} {p}"
        );
        assert!(reply
            .header("access-control-expose-headers")
            .unwrap()
            .contains("retry-after"));
    }
    let foreign = http(
        addr,
        "GET",
        &path,
        &[("origin", "https://evil.example")],
        b"",
    )
    .await;
    assert_eq!(foreign.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn unknown_paths_wrong_methods_and_oversized_bodies() {
    let (addr, _api) = start_local_server(ORIGIN).await;
    let job = new_job(OWNER, &[]).await;
    let auth = bearer(&LocalJwt::new("test-jwt-secret").token(OWNER, &[], 60));
    let reply = http(addr, "GET", "/api/nothing", &[], b"").await;
    assert_eq!(
        (reply.status, reply.body["code"].as_str()),
        (404, Some("NOT_FOUND"))
    );
    let reply = http(
        addr,
        "PUT",
        &format!("/api/jobs/{job}/quote-chat/"),
        &[],
        b"",
    )
    .await;
    assert_eq!(
        (reply.status, reply.body["code"].as_str()),
        (405, Some("METHOD_NOT_ALLOWED"))
    );
    assert_eq!(reply.header("allow"), Some("GET, POST, DELETE"));
    let big = vec![b'x'; 600 * 1024];
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let reply = http(
        addr,
        "POST",
        &format!("/api/jobs/{job}/quote-chat/"),
        &headers,
        &big,
    )
    .await;
    assert_eq!(
        (reply.status, reply.body["code"].as_str()),
        (413, Some("PAYLOAD_TOO_LARGE"))
    );
    let reply = http(
        addr,
        "GET",
        "/api/jobs/not-a-uuid/quote-chat/",
        &[("authorization", auth.as_str())],
        b"",
    )
    .await;
    assert_eq!(
        (reply.status, reply.body["code"].as_str()),
        (400, Some("INVALID_JOB_ID"))
    );
}

#[tokio::test]
async fn the_local_server_writes_one_plain_line_per_request_carrying_its_id() {
    use tokio::io::{AsyncBufReadExt, BufReader};

    // The binary as `make run` starts it, its output a pipe (as when sent to a file), on
    // tables of its own: it writes the demo job there, and sweeps them.
    let config = testkit::config();
    let (messages, jobs) = (
        format!("{}-local-logs", config.messages_table),
        format!("{}-local-logs", config.jobs_table),
    );
    let secret = "local-logs-jwt-secret";
    let mut child = tokio::process::Command::new(crate::runtime::binary("quote-chat-local"))
        .arg("serve")
        .env_clear()
        .envs([
            ("PORT", "0".to_owned()),
            ("DYNAMODB_ENDPOINT", testkit::endpoint()),
            ("MESSAGES_TABLE", messages),
            ("JOBS_TABLE", jobs),
            ("LOCAL_JWT_SECRET", secret.to_owned()),
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start quote-chat-local");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut banner = Vec::new();
    let started = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while let Ok(Some(line)) = stdout.next_line().await {
            banner.push(line);
            if banner
                .last()
                .is_some_and(|l| l == "Ctrl-C stops the server.")
            {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(started, Ok(true), "the server started: {banner:?}");
    let addr: std::net::SocketAddr = banner
        .iter()
        .find_map(|line| line.strip_prefix("quote-chat local API on http://"))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("the address in {banner:?}"));

    let token = bearer(&LocalJwt::new(secret).token(setup::DEMO_OWNER, &[], 60));
    let listed = http(
        addr,
        "GET",
        &format!("/api/jobs/{}/quote-chat/", setup::DEMO_JOB_ID),
        &[("authorization", token.as_str())],
        b"",
    )
    .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let unrouted = http(addr, "GET", "/api/nothing", &[], b"").await;
    assert_eq!(unrouted.status, 404);

    let _ = child.kill().await;
    let mut lines = Vec::new();
    while let Ok(Some(line)) = stdout.next_line().await {
        lines.push(line);
    }
    let text = lines.join("\n");
    assert!(
        !text.contains('\u{1b}'),
        "no colour codes in a pipe: {text:?}"
    );
    assert_eq!(lines.len(), 2, "one line per request:\n{text}");
    for (line, reply, status) in [(&lines[0], &listed, 200), (&lines[1], &unrouted, 404)] {
        let id = reply.header("x-request-id").expect("x-request-id");
        assert!(line.contains(id), "its request id {id}: {line}");
        assert!(line.contains(&format!("status={status}")), "{line}");
        assert!(!line.contains(setup::DEMO_JOB_ID), "a raw job id: {line}");
    }
}
