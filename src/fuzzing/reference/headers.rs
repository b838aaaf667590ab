//! Which caller headers pass (docs/allowlist.md, `headers.allow`).

/// Request headers no caller may set (docs/allowlist.md, `headers.allow`): hop-by-hop
/// (RFC 9110 7.6.1), framing, routing, forwarding, client-address spoofing, method overrides,
/// and Accept-Encoding.
pub(crate) fn forbidden(name: &str) -> bool {
    const NAMES: &[&str] = &[
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "expect",
        "host",
        "via",
        "forwarded",
        "x-real-ip",
        "x-client-ip",
        "true-client-ip",
        "cf-connecting-ip",
        "x-cluster-client-ip",
        "x-originating-ip",
        "x-remote-ip",
        "x-remote-addr",
        "x-host",
        "x-original-host",
        "x-original-url",
        "x-rewrite-url",
        "x-original-forwarded-for",
        "x-http-method",
        "x-http-method-override",
        "x-method-override",
        "accept-encoding",
    ];
    NAMES.contains(&name)
        || ["x-forwarded-", "x-envoy-", "proxy-"]
            .iter()
            .any(|p| name.starts_with(p))
}

/// RFC 9110 `token`.
pub(crate) fn token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The caller headers that pass, lowercased, or `None` when the call is refused: a header
/// that is not a token, is forbidden, not allowed, given twice, or has a control character
/// in its value refuses the call; an injected one is dropped.
pub fn caller_headers(
    allow: &[&str],
    inject: &[&str],
    given: &[(String, String)],
) -> Option<Vec<(String, Vec<u8>)>> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    for (name, value) in given {
        if !token(name) {
            return None;
        }
        let name = name.to_ascii_lowercase();
        if forbidden(&name) {
            return None;
        }
        if inject.iter().any(|i| i.eq_ignore_ascii_case(&name)) {
            continue;
        }
        let ok_value = value
            .bytes()
            .all(|b| (b >= 0x20 && b != 0x7f) || b == b'\t');
        if !allow.iter().any(|a| a.eq_ignore_ascii_case(&name))
            || out.iter().any(|(n, _)| *n == name)
            || !ok_value
        {
            return None;
        }
        out.push((name, value.clone().into_bytes()));
    }
    Some(out)
}
