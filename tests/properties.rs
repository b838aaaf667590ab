//! The fuzz targets' properties (`harpoon::fuzzing`) as proptest tests, so every `cargo test`
//! checks them on fresh inputs; the committed fuzz seeds replayed; and the regression tests of
//! the bugs the properties found. A failure prints the input bytes: save them as
//! `fuzz/corpus/<target>/seed-regression-<name>` and `committed_fuzz_seeds_hold_every_property`
//! replays them from then on (fuzz/README.md).

use harpoon::fuzzing::{self, TARGETS, TEXT_MARK};
use proptest::prelude::*;
use proptest::test_runner::Config;
use std::path::Path;

/// Cases per property: enough to catch a broken rule on every run, few enough that the whole
/// file takes a few seconds in a debug build. The fuzzers run the long campaigns.
fn cases(n: u32) -> Config {
    Config {
        cases: n,
        // Failures are reported with their input; no regression files appear in the tree.
        failure_persistence: None,
        ..Config::default()
    }
}

/// Texts the generators may take verbatim: the spellings attacks use.
const TEXTS: &[&str] = &[
    "/reports/../admin",
    "/reports/%2e%2e/admin",
    "/files/..;/admin",
    "/a/./b",
    "//evil.example/x",
    "/a%2fb",
    "/a%5cb",
    "/a\\b",
    "/x%00",
    "/x?y=1",
    "/x#f",
    "/%C3%A9",
    "/é",
    "/a%zz",
    "/reports/*",
    "/files/**",
    "/a[.-0]b",
    "/x[a/b]y",
    "{a,b}",
    "../",
    "%2e%2e",
    "\r\nHost: evil.example",
    "s3cr3t-T0KEN",
    "",
    "{}",
    r#"{"id":"../x"}"#,
    r#"{"label":"api","method":"GET","path":"/reports/x"}"#,
];

/// Choice bytes, then up to three free texts, in the fuzzers' input format.
fn input() -> impl Strategy<Value = Vec<u8>> {
    let text = prop_oneof![
        proptest::sample::select(TEXTS).prop_map(str::to_owned),
        proptest::collection::vec(any::<char>(), 0..24).prop_map(String::from_iter),
    ];
    (
        proptest::collection::vec(0u8..TEXT_MARK, 0..160),
        proptest::collection::vec(text, 0..3),
    )
        .prop_map(|(mut data, texts)| {
            for t in texts {
                data.push(TEXT_MARK);
                data.extend_from_slice(t.as_bytes());
            }
            data
        })
}

/// A shipped or fixture allowlist with random byte edits: mostly near-valid files, so the
/// compiler's checks run, not only the YAML parser's.
fn allowlist_input() -> impl Strategy<Value = Vec<u8>> {
    let files: Vec<Vec<u8>> = ["allowlists", "tests/fixtures/allowlists/valid"]
        .iter()
        .flat_map(|d| crate::support::yaml_files(d))
        .map(|p| std::fs::read(p).expect("allowlist"))
        .collect();
    let edits = proptest::collection::vec((any::<usize>(), 0u8..4, any::<u8>()), 0..6);
    (proptest::sample::select(files), edits).prop_map(|(mut file, edits)| {
        for (at, op, byte) in edits {
            let at = at % (file.len() + 1);
            match op {
                0 => file.insert(at, byte),
                1 if at < file.len() => {
                    file.remove(at);
                }
                2 if at < file.len() => file[at] = byte,
                // Duplicate a slice: repeated keys, nested copies.
                _ => {
                    let end = (at + usize::from(byte)).min(file.len());
                    let copy = file[at..end].to_vec();
                    file.splice(at..at, copy);
                }
            }
        }
        file
    })
}

proptest! {
    #![proptest_config(cases(96))]

    #[test]
    fn allowlist_bytes_give_a_policy_or_located_errors(data in allowlist_input()) {
        fuzzing::allowlist(&data);
    }
}

proptest! {
    #![proptest_config(cases(384))]

    #[test]
    fn template_values_stay_in_their_segment(data in input()) {
        fuzzing::url_template(&data);
    }

    #[test]
    fn normalization_is_canonical_and_globs_keep_to_segments(data in input()) {
        fuzzing::path_glob(&data);
    }

    #[test]
    fn decide_allows_only_what_the_reference_allows(data in input()) {
        fuzzing::decide(&data);
    }

    /// The generator writes policies that compile: most cases check a decision. (`decide`
    /// itself fails once most of its cases skip; this says so within `cargo test`.)
    #[test]
    fn decide_cases_mostly_compile(data in input()) {
        fuzzing::decide(&data);
        let (cases, skipped) = fuzzing::decide_case_counts();
        prop_assert!(cases < 100 || skipped * 2 <= cases, "{skipped} of {cases} skipped");
    }

    #[test]
    fn addresses_get_their_registry_class_in_every_spelling(data in input()) {
        fuzzing::address(&data);
    }

    #[test]
    fn headers_and_bodies_stay_in_their_allowlists_and_bounds(data in input()) {
        fuzzing::headers_body(&data);
    }

    #[test]
    fn tunnel_commands_read_as_the_reference_reads_them(data in input()) {
        fuzzing::poll_command(&data);
    }
}

proptest! {
    #![proptest_config(cases(128))]

    #[test]
    fn any_tool_arguments_give_a_result_or_an_is_error(data in input()) {
        fuzzing::tool_call(&data);
    }

    /// Every IPv4 address, not only those near a registry row, classifies like its spellings.
    #[test]
    fn every_ipv4_address_classifies_like_its_ipv6_spellings(
        a in any::<u32>(),
        noise in any::<u32>(),
    ) {
        use harpoon::policy::net::classify;
        let v4 = std::net::Ipv4Addr::from(a);
        let want = classify(v4.into());
        prop_assert_eq!(want, fuzzing::reference::classify(v4.into()), "{}", v4);
        for form in fuzzing::reference::spellings(v4, noise) {
            prop_assert_eq!(classify(form.into()), want, "{} spells {}", form, v4);
        }
    }
}

/// Every committed seed of every fuzz target holds its target's properties: the corpus is also
/// the regression suite (a crash saved as `seed-regression-*` is replayed here).
#[test]
fn committed_fuzz_seeds_hold_every_property() {
    for (name, target) in TARGETS {
        let dir = Path::new("fuzz/corpus").join(name);
        let mut seeds: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("entry").path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("seed-"))
            })
            .collect();
        seeds.sort();
        assert!(seeds.len() >= 5, "{name}: only {} seeds", seeds.len());
        for seed in seeds {
            let data = std::fs::read(&seed).expect("seed");
            let run = std::panic::catch_unwind(|| target(&data));
            assert!(run.is_ok(), "{} breaks a property", seed.display());
        }
    }
}

/// Every fuzz target has a shim in fuzz/fuzz_targets that calls its own entry point and a
/// `[[bin]]` in fuzz/Cargo.toml, and every shim is a target here.
#[test]
fn every_fuzz_target_has_a_shim_and_every_shim_a_target() {
    let mut shims: Vec<String> = std::fs::read_dir("fuzz/fuzz_targets")
        .expect("fuzz/fuzz_targets")
        .map(|e| e.expect("entry").path())
        .filter_map(|p| Some(p.file_stem()?.to_string_lossy().into_owned()))
        .collect();
    shims.sort();
    let mut names: Vec<String> = TARGETS.iter().map(|(n, _)| n.to_string()).collect();
    names.sort();
    assert_eq!(shims, names);
    let manifest = std::fs::read_to_string("fuzz/Cargo.toml").expect("fuzz/Cargo.toml");
    for name in &names {
        let shim = std::fs::read_to_string(format!("fuzz/fuzz_targets/{name}.rs")).expect("shim");
        let call = format!("harpoon::fuzzing::{name}(data)");
        assert!(
            shim.contains(&call),
            "fuzz_targets/{name}.rs does not call {call}"
        );
        let bin = format!("name = \"{name}\"\npath = \"fuzz_targets/{name}.rs\"");
        assert!(
            manifest.contains(&bin),
            "fuzz/Cargo.toml has no [[bin]] {name}"
        );
    }
}

// Regression tests of the bugs these properties found. A test whose fix is pending is ignored
// (the reason says what is wrong) and its inputs are skipped by a predicate in
// `harpoon::fuzzing::known_bugs`; the fix deletes both.

/// Tomcat, Jetty and Spring strip `;` path parameters before they resolve dot segments, so
/// `/files/..;/admin` is `/admin` upstream: a `/files/**` grant must not reach it.
#[tokio::test]
async fn a_dot_segment_with_path_parameters_is_refused() {
    use crate::support::engine::{call, code, engine};
    use harpoon::policy::path::{PathError, normalize};
    for path in [
        "/files/..;/admin",
        "/files/%2e%2e;/admin",
        "/files/.;/x",
        "/files/..;jsessionid=1/admin",
    ] {
        assert_eq!(normalize(path), Err(PathError::DotSegment), "{path}");
    }
    let canary = crate::support::upstream::Upstream::canary().await;
    let engine = engine(&crate::enforcement::allowlist(&canary.url()));
    let args = serde_json::json!({"label": "api", "method": "GET", "path": "/files/..;/admin"});
    assert_eq!(
        code(&call(&engine, "call_target", args).await),
        "path_not_allowed"
    );
    assert_eq!(canary.hits(), 0);
}

/// A class matches one character of one segment (docs/allowlist.md); `build_glob` refuses `[/`
/// and `/]` but not a `/` in the middle of a class or inside a range, which then spans segments.
#[test]
fn a_glob_class_that_can_match_a_slash_is_refused() {
    use harpoon::policy::path::build_glob;
    // The last two chain ranges: globset reads each further `-X` as a new end of the last
    // range, so `(-----@` is `(` to `@`, which holds `/` (found by `path_glob` in CI).
    for glob in [
        "/x[a/b]y",
        "/a[.-0]b",
        "/r/[+-0]",
        "/a[(-----@]b",
        "/@3B@v[12@@@@I@'(---------------------@@@@@]/x",
    ] {
        assert_eq!(
            build_glob(glob).err().as_deref(),
            Some("has '/' inside a class; a class matches one character of one segment"),
            "{glob}"
        );
    }
    // Chained ranges that stay clear of `/`, and a literal `-` at either end, are fine.
    for glob in ["/a[a-c-e]b", "/a[-.]b", "/a[0-9-]b", "/a[]x]b"] {
        assert!(build_glob(glob).is_ok(), "{glob}");
    }
    // A second class is read as carefully as the first.
    assert!(build_glob("/a/[a-z]/[.-0]").is_err());
}

/// Every class of up to four characters around `/` (with and without a leading `]`, which
/// globset reads as a literal) is refused exactly when globset itself, compiling the glob with
/// `/` as a separator, lets the class match `/`. globset is the reference: it is what matches.
#[test]
fn a_class_is_refused_exactly_when_globset_lets_it_match_a_slash() {
    use harpoon::policy::path::build_glob;
    const ALPHABET: [char; 6] = ['-', '+', '.', '/', '0', 'a'];
    let mut classes = vec![String::new()];
    let mut frontier = vec![String::new()];
    for _ in 0..4 {
        frontier = frontier
            .iter()
            .flat_map(|c| ALPHABET.map(|x| format!("{c}{x}")))
            .collect();
        classes.extend(frontier.iter().cloned());
    }
    let (mut spanning, mut clear) = (0, 0);
    for class in classes.iter().flat_map(|c| [c.clone(), format!("]{c}")]) {
        if class.is_empty() {
            continue;
        }
        let glob = format!("/a[{class}]b");
        let reference = globset::GlobBuilder::new(&glob)
            .literal_separator(true)
            .backslash_escape(false)
            .build()
            .map(|g| g.compile_matcher().is_match("/a/b"));
        let ours = build_glob(&glob);
        match reference {
            Err(_) => assert!(ours.is_err(), "{glob}: globset refuses it, harpoon took it"),
            Ok(true) => {
                spanning += 1;
                assert_eq!(
                    ours.err().as_deref(),
                    Some("has '/' inside a class; a class matches one character of one segment"),
                    "{glob} matches /a/b in globset"
                );
            }
            Ok(false) => {
                clear += 1;
                assert!(
                    ours.is_ok(),
                    "{glob}: cannot match '/', yet refused: {ours:?}"
                );
            }
        }
    }
    // Both kinds are well represented, so neither half of the check is vacuous.
    assert!(
        spanning > 1000 && clear > 1000,
        "{spanning} spanning, {clear} clear"
    );
}

/// A caller chooses `max_response_bytes`; cutting an echoed secret at the cap must not hand
/// back its first bytes (redaction looks only for whole secrets).
#[tokio::test]
async fn a_secret_cut_by_the_response_cap_is_blanked() {
    use crate::support::engine::{call, engine, response};
    let up = crate::support::upstream::Upstream::echo().await;
    let engine = engine(&crate::enforcement::allowlist(&up.url()));
    let args = serde_json::json!({"label": "api", "method": "GET", "path": "/reports/x"});
    let full = response(call(&engine, "call_target", args.clone()).await);
    let secret = "s3cret-token-value";
    let stars = "*".repeat(secret.len());
    let at = full
        .body
        .windows(stars.len())
        .position(|w| w == stars.as_bytes())
        .expect("the echoed secret is redacted in a whole body");
    let mut args = args;
    args["max_response_bytes"] = serde_json::json!(at + 10);
    let cut = response(call(&engine, "call_target", args).await);
    assert!(cut.truncated);
    let body = String::from_utf8_lossy(&cut.body);
    assert!(
        !body.contains(&secret[..10]),
        "the secret's start came back: {body}"
    );
}

/// harpoon shows a media type's essence lowercased, so a case-variant of a secret in a
/// `Content-Type` (`image/TENANT#42`) would come out as the secret itself: the top-level type and
/// a multipart part's are refused as media types (found by the tool_call fuzz target in CI).
#[test]
fn a_media_type_that_lowercases_to_a_secret_is_not_shown() {
    use harpoon::callout::media_type::{OCTET_STREAM, validated};
    use harpoon::fuzzing::{SECRET_TENANT, SECRET_TOKEN, assert_no_secret_in_result};
    let redactor = harpoon::policy::redact::Redactor::new(
        [SECRET_TOKEN, SECRET_TENANT].map(|s| s.as_bytes().into()),
    );
    let shouted = SECRET_TENANT.to_ascii_uppercase();
    assert_eq!(
        validated(&format!("image/{shouted}"), &redactor),
        OCTET_STREAM
    );
    let body = format!(
        "--b\r\nContent-Type: image/{shouted}\r\n\r\npixels\r\n--b\r\nContent-Type: AUDIO/Tenant#42\r\n\r\nsound\r\n--b--"
    );
    let r = harpoon::callout::BoundedResponse {
        status: 200,
        headers: vec![],
        full_size: Some(body.len() as u64),
        body: bytes::Bytes::from(body),
        truncated: false,
        content_type: Some(validated("multipart/mixed; boundary=b", &redactor)),
        redirects: 0,
        redactor,
    };
    let result = harpoon::mcp::result::to_result("t", harpoon::engine::Outcome::Response(r))
        .expect("a response is a result");
    let value = serde_json::to_value(&result).expect("serializes");
    assert!(!value.to_string().contains(SECRET_TENANT), "{value}");
    assert_no_secret_in_result(&value);
}

/// The tool_call property decodes only what harpoon encodes (a block's `data`, a resource's
/// `blob` and `uri`, `body_base64`): an upstream JSON body that uses those key names for its own
/// encoded strings is passed on as sent, and is not a leak (found by the fuzzer in CI, where the
/// property decoded a body's `uri` array). It still fails on a secret in a field harpoon encoded.
#[test]
fn the_secret_property_decodes_only_what_harpoon_encodes() {
    use base64::Engine as _;
    use harpoon::fuzzing::{SECRET_TENANT, SECRET_TOKEN, assert_no_secret_in_result};
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let pct: String = SECRET_TENANT.bytes().map(|b| format!("%{b:02X}")).collect();
    let body =
        serde_json::json!({"uri": [pct], "data": [b64(SECRET_TOKEN)], "blob": b64(SECRET_TENANT)});
    let raw = serde_json::to_vec(&body).expect("json");
    let redactor = harpoon::policy::redact::Redactor::new(
        [SECRET_TOKEN, SECRET_TENANT].map(|s| s.as_bytes().into()),
    );
    let r = harpoon::callout::BoundedResponse {
        status: 200,
        headers: vec![],
        full_size: Some(raw.len() as u64),
        body: bytes::Bytes::from(raw),
        truncated: false,
        content_type: Some("application/json".into()),
        redirects: 0,
        redactor,
    };
    let result = harpoon::mcp::result::to_result("t", harpoon::engine::Outcome::Response(r))
        .expect("a response is a result");
    assert_eq!(
        result.structured_content.as_ref().expect("structured")["body"],
        body
    );
    assert_no_secret_in_result(&serde_json::to_value(&result).expect("serializes"));

    for leak in [
        serde_json::json!({"content": [{"type": "image", "data": b64(SECRET_TOKEN), "mimeType": "image/png"}]}),
        serde_json::json!({"content": [{"type": "resource", "resource": {"uri": format!("test://{pct}"), "text": ""}}]}),
        serde_json::json!({"content": [], "structuredContent": {"body_base64": b64(SECRET_TENANT)}}),
        serde_json::json!({"content": [{"type": "text", "text": SECRET_TOKEN}]}),
    ] {
        let caught = std::panic::catch_unwind(|| assert_no_secret_in_result(&leak));
        assert!(caught.is_err(), "the property missed the secret in {leak}");
    }
}

/// OpenStack serves instance metadata on fe80::a9fe:a9fe as well as 169.254.169.254; metadata
/// is denied whatever allow_cidrs says.
#[test]
fn openstack_ipv6_metadata_is_always_denied() {
    use harpoon::policy::net::{AddressClass, AddressDenial, NetworkPolicy};
    let link_local = NetworkPolicy::new(vec!["fe80::/10".parse().expect("cidr")]);
    assert_eq!(
        link_local.check("[fe80::a9fe:a9fe]:80".parse().expect("addr"), &[]),
        Err(AddressDenial::AlwaysDenied(AddressClass::Metadata))
    );
}

/// The 2048-byte bound on a caller's path (docs/allowlist.md) holds for what is matched and
/// sent too: encoding can triple a path's length, and a normalized path must be its own normal
/// form. Found by the `path_glob` fuzz target
/// (fuzz/corpus/path_glob/seed-regression-normalized-path-outgrows-its-bound).
#[test]
fn a_normalized_path_stays_within_the_bound() {
    use harpoon::policy::path::{MAX_PATH_LEN, PathError, normalize};
    let path = format!("/{}", "é".repeat(1000));
    assert!(path.len() <= MAX_PATH_LEN);
    assert_eq!(normalize(&path), Err(PathError::TooLong));
}

/// A header value of exactly the bound, or one byte over, comes back whole or cut to the bound:
/// the comparison is `>`, not `>=` (mutation testing found no test at the edge; a `>=` there
/// indexed one past the value).
#[test]
fn a_response_header_at_the_bound_comes_back_whole() {
    use harpoon::callout::{MAX_RETURNED_HEADER_VALUE, filter_response_headers};
    let policy = crate::support::engine::policy(
        "version: 1\ntargets:\n  - label: t\n    base_url: https://api.example\n    \
         response_headers: [X-Long]\n    paths: [{ methods: [GET], glob: \"/*\" }]\n",
    );
    for (len, returned) in [
        (MAX_RETURNED_HEADER_VALUE - 1, MAX_RETURNED_HEADER_VALUE - 1),
        (MAX_RETURNED_HEADER_VALUE, MAX_RETURNED_HEADER_VALUE),
        (MAX_RETURNED_HEADER_VALUE + 1, MAX_RETURNED_HEADER_VALUE),
    ] {
        let mut map = http::HeaderMap::new();
        let value = "v".repeat(len);
        map.insert(
            "x-long",
            http::HeaderValue::from_str(&value).expect("value"),
        );
        let out = filter_response_headers(&policy.targets()[0], &map);
        assert_eq!(out[0].1, value[..returned], "a value of {len} bytes");
    }
}

/// Returned response header values are cut at 8 KiB (`MAX_RETURNED_HEADER_VALUE`). The cut is
/// made on bytes and the text decoded after it, so a cut inside a character becomes U+FFFD and
/// the value came back longer than its bound; it is now cut at a character boundary.
#[test]
fn a_response_header_cut_inside_a_character_stays_within_its_bound() {
    use harpoon::callout::filter_response_headers;
    let policy = crate::support::engine::policy(
        "version: 1\ntargets:\n  - label: t\n    base_url: https://api.example\n    \
         response_headers: [X-Long]\n    paths: [{ methods: [GET], glob: \"/*\" }]\n",
    );
    let mut map = http::HeaderMap::new();
    // One ASCII byte, then two-byte characters: byte 8192 falls inside one.
    let value = format!("a{}", "é".repeat(5000));
    map.insert(
        "x-long",
        http::HeaderValue::from_str(&value).expect("value"),
    );
    let out = filter_response_headers(&policy.targets()[0], &map);
    let returned = &out[0].1;
    assert!(returned.len() <= 8 * 1024, "{} bytes", returned.len());
    assert!(
        value.starts_with(returned.as_str()),
        "the value is not a prefix of the header"
    );
}
