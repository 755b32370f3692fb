//! API Gateway's `$default` route: whatever no other route serves gets 404 `NOT_FOUND` or 405
//! `METHOD_NOT_ALLOWED` in the API's envelope instead of API Gateway's own `{"message": ...}`.
//! It reads nothing and needs no permissions.

use lambda_http::{Body, Request, Response};
use shared::{http, routes};

pub fn handler(req: &Request) -> Response<Body> {
    let err = routes::unrouted(req.method(), req.uri().path());
    http::respond(req, Err(err))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::Method;
    use shared::testing::parts;

    fn request(method: Method, path: &str) -> Request {
        let req = lambda_http::http::Request::builder()
            .method(method)
            .uri(path)
            .body(Body::Empty)
            .unwrap();
        shared::apigw::deliver(req, Default::default(), None, "req-9".into())
    }

    #[test]
    fn unknown_paths_are_404_and_wrong_methods_405_in_the_envelope() {
        let (status, body) = parts(&handler(&request(Method::GET, "/api/nothing")));
        assert_eq!((status, body["code"].as_str()), (404, Some("NOT_FOUND")));
        assert_eq!(body["success"], false);
        assert_eq!(body["request_id"], "req-9");
        let response = handler(&request(Method::PUT, "/api/jobs/x/quote-chat/"));
        let (status, body) = parts(&response);
        assert_eq!(
            (status, body["code"].as_str()),
            (405, Some("METHOD_NOT_ALLOWED"))
        );
        assert_eq!(response.headers()["allow"], "GET, POST, DELETE");
        let (status, _) = parts(&handler(&request(Method::HEAD, "/api/jobs/x/quote-chat/m")));
        assert_eq!(status, 405);
    }
}
