//! A test authorization server on 127.0.0.1: signing keys made at test time (ES256 and EdDSA
//! with ring; RSA for RS256 and PS256 with `rsa_key`, signed by ring), its RFC 8414 metadata and JWKS served by a loopback upstream that counts every
//! request, and access tokens minted per test. Keys can be rotated: the JWKS then publishes
//! only the new one.

use super::rsa_key::{self, RsaKey};
use super::upstream::{Reply, Upstream};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// A signing key and its public JWK.
pub enum Key {
    Es256 {
        kid: String,
        pair: EcdsaKeyPair,
    },
    EdDsa {
        kid: String,
        pair: Ed25519KeyPair,
    },
    /// `alg` is `RS256` or `PS256`; the JWK names it only when `publish_alg` (a key without
    /// `alg` may verify either padding).
    Rsa {
        kid: String,
        alg: &'static str,
        publish_alg: bool,
        key: Arc<RsaKey>,
    },
}

/// The RSA key of this test binary: made once (finding two 1024-bit primes takes a while),
/// published under several `kid`s by the tests that need RSA.
fn shared_rsa_key() -> Arc<RsaKey> {
    static KEY: OnceLock<Arc<RsaKey>> = OnceLock::new();
    Arc::clone(KEY.get_or_init(|| Arc::new(rsa_key::generate())))
}

impl Key {
    pub fn es256(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).expect("generate");
        let pair = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).expect("key");
        Key::Es256 {
            kid: kid.into(),
            pair,
        }
    }

    pub fn eddsa(kid: &str) -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("generate");
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("key");
        Key::EdDsa {
            kid: kid.into(),
            pair,
        }
    }

    /// The test binary's RSA key under `kid`, signing with `alg` (`RS256` or `PS256`).
    pub fn rsa(kid: &str, alg: &'static str, publish_alg: bool) -> Self {
        assert!(matches!(alg, "RS256" | "PS256"), "{alg}");
        Key::Rsa {
            kid: kid.into(),
            alg,
            publish_alg,
            key: shared_rsa_key(),
        }
    }

    pub fn kid(&self) -> &str {
        match self {
            Key::Es256 { kid, .. } | Key::EdDsa { kid, .. } | Key::Rsa { kid, .. } => kid,
        }
    }

    pub fn alg(&self) -> &'static str {
        match self {
            Key::Es256 { .. } => "ES256",
            Key::EdDsa { .. } => "EdDSA",
            Key::Rsa { alg, .. } => alg,
        }
    }

    pub fn jwk(&self) -> Value {
        match self {
            Key::Es256 { kid, pair } => {
                let point = pair.public_key().as_ref();
                json!({"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
                    "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..])})
            }
            Key::EdDsa { kid, pair } => json!({"kty": "OKP", "crv": "Ed25519", "kid": kid,
                "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref())}),
            Key::Rsa {
                kid,
                alg,
                publish_alg,
                key,
            } => {
                let mut jwk = json!({"kty": "RSA", "kid": kid, "use": "sig",
                    "n": URL_SAFE_NO_PAD.encode(&key.n), "e": URL_SAFE_NO_PAD.encode(&key.e)});
                if *publish_alg {
                    jwk["alg"] = json!(alg);
                }
                jwk
            }
        }
    }

    /// A compact JWS of `claims` with this key, its `kid` in the header.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_claiming(self.alg(), claims)
    }

    /// A compact JWS signed with this key's own algorithm whose header claims `header_alg`
    /// (algorithm confusion: the header must not choose how the signature is checked).
    pub fn sign_claiming(&self, header_alg: &str, claims: &Value) -> String {
        let header = json!({"alg": header_alg, "typ": "at+jwt", "kid": self.kid()});
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = match self {
            Key::Es256 { pair, .. } => pair
                .sign(&SystemRandom::new(), signed.as_bytes())
                .expect("sign")
                .as_ref()
                .to_vec(),
            Key::EdDsa { pair, .. } => pair.sign(signed.as_bytes()).as_ref().to_vec(),
            Key::Rsa { alg, key, .. } => {
                let padding: &'static dyn signature::RsaEncoding = if *alg == "PS256" {
                    &signature::RSA_PSS_SHA256
                } else {
                    &signature::RSA_PKCS1_SHA256
                };
                let mut sig = vec![0u8; key.pair.public().modulus_len()];
                key.pair
                    .sign(padding, &SystemRandom::new(), signed.as_bytes(), &mut sig)
                    .expect("sign");
                sig
            }
        };
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig))
    }
}

/// The unsigned `alg: none` form of `claims`.
pub fn unsigned(claims: &Value) -> String {
    let header = json!({"alg": "none", "typ": "JWT"});
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A running test issuer.
pub struct Issuer {
    pub server: Upstream,
    /// The JWKS it publishes now.
    jwks: Arc<Mutex<Value>>,
}

impl Issuer {
    /// An issuer publishing `keys`, at `http://127.0.0.1:<port>`.
    pub async fn start(keys: &[&Key]) -> Self {
        let jwks = Arc::new(Mutex::new(
            json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()}),
        ));
        let id: Arc<OnceLock<String>> = Arc::default();
        let (served, me) = (Arc::clone(&jwks), Arc::clone(&id));
        let server = Upstream::start(move |seen| {
            let issuer = me.get().cloned().unwrap_or_default();
            match seen.target.as_str() {
                "/.well-known/oauth-authorization-server" => Reply::json(
                    200,
                    json!({"issuer": issuer, "jwks_uri": format!("{issuer}/jwks"),
                        "authorization_endpoint": format!("{issuer}/authorize"),
                        "token_endpoint": format!("{issuer}/token")}),
                ),
                "/jwks" => Reply::json(200, served.lock().expect("lock").clone()),
                _ => Reply::json(404, json!({"error": "not_found"})),
            }
        })
        .await;
        let _ = id.set(server.url());
        Self { server, jwks }
    }

    pub fn id(&self) -> String {
        self.server.url()
    }

    /// Publishes `keys` instead of the current set (a key rotation).
    pub fn publish(&self, keys: &[&Key]) {
        *self.jwks.lock().expect("lock") =
            json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()});
    }

    /// How many times its JWKS was fetched.
    pub fn jwks_fetches(&self) -> usize {
        self.server
            .requests()
            .iter()
            .filter(|r| r.target == "/jwks")
            .count()
    }

    /// Claims of a token valid for `resource` with `scope`, for five minutes.
    pub fn claims(&self, resource: &str, scope: &str) -> Value {
        json!({"iss": self.id(), "aud": resource, "sub": "user-7", "client_id": "client-3",
            "scope": scope, "iat": now(), "exp": now() + 300})
    }
}
