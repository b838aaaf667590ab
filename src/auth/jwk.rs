//! Public keys from a JWK set (RFC 7517), and signature verification with ring (the crypto
//! provider rustls already uses: no second crypto stack). Keys harpoon cannot use (private
//! parts, symmetric `oct` keys, encryption keys, unknown curves) are skipped, never trusted.

use crate::policy::Algorithm;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Deserialize;

/// Most keys kept from one set: issuers publish a handful (current, next, previous).
pub const MAX_KEYS: usize = 32;

/// One usable public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub kid: Option<String>,
    /// The key's own `alg`, when it names one: a token must then use exactly it.
    pub alg: Option<Algorithm>,
    material: Material,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Material {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// An uncompressed point (`0x04 || x || y`) and its curve.
    Ec {
        p384: bool,
        point: Vec<u8>,
    },
    Ed25519(Vec<u8>),
}

/// A JWK as written; only the public members harpoon uses.
#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default, rename = "use")]
    usage: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
    /// A private member: a set that publishes one is refused key by key.
    #[serde(default)]
    d: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawJwkSet {
    keys: Vec<serde_json::Value>,
}

/// The usable keys of a JWK set document, at most `MAX_KEYS`; `None` if it is no JWK set.
pub fn parse_set(bytes: &[u8]) -> Option<Vec<PublicKey>> {
    let set: RawJwkSet = serde_json::from_slice(bytes).ok()?;
    Some(
        set.keys
            .into_iter()
            .filter_map(|k| serde_json::from_value::<RawJwk>(k).ok())
            .filter_map(to_key)
            .take(MAX_KEYS)
            .collect(),
    )
}

fn b64(s: &Option<String>) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.as_deref()?).ok()
}

fn to_key(raw: RawJwk) -> Option<PublicKey> {
    if raw.d.is_some() || raw.usage.as_deref().is_some_and(|u| u != "sig") {
        return None;
    }
    let alg = match &raw.alg {
        None => None,
        Some(a) => Some(Algorithm::parse(a)?),
    };
    let material = match (raw.kty.as_str(), raw.crv.as_deref()) {
        ("RSA", _) => Material::Rsa {
            n: b64(&raw.n)?,
            e: b64(&raw.e)?,
        },
        ("EC", Some(crv @ ("P-256" | "P-384"))) => {
            let (x, y) = (b64(&raw.x)?, b64(&raw.y)?);
            let size = if crv == "P-256" { 32 } else { 48 };
            if x.len() != size || y.len() != size {
                return None;
            }
            let mut point = vec![4u8];
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            Material::Ec {
                p384: crv == "P-384",
                point,
            }
        }
        ("OKP", Some("Ed25519")) => Material::Ed25519(b64(&raw.x)?),
        _ => return None,
    };
    Some(PublicKey {
        kid: raw.kid,
        alg,
        material,
    })
}

impl PublicKey {
    /// Whether this key can verify a signature made with `alg` (its type fits, and its own
    /// `alg`, if any, is the same).
    pub fn fits(&self, alg: Algorithm) -> bool {
        if self.alg.is_some_and(|a| a != alg) {
            return false;
        }
        use Algorithm::*;
        match &self.material {
            Material::Rsa { .. } => matches!(alg, Rs256 | Rs384 | Rs512 | Ps256 | Ps384 | Ps512),
            Material::Ec { p384: false, .. } => alg == Es256,
            Material::Ec { p384: true, .. } => alg == Es384,
            Material::Ed25519(_) => alg == EdDsa,
        }
    }

    /// Whether `signature` over `message` verifies with this key under `alg`.
    pub fn verify(&self, alg: Algorithm, message: &[u8], sig: &[u8]) -> bool {
        if !self.fits(alg) {
            return false;
        }
        use Algorithm::*;
        match &self.material {
            Material::Rsa { n, e } => {
                let params: &signature::RsaParameters = match alg {
                    Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                    Rs384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                    Rs512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                    Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
                    Ps384 => &signature::RSA_PSS_2048_8192_SHA384,
                    Ps512 => &signature::RSA_PSS_2048_8192_SHA512,
                    _ => return false,
                };
                RsaPublicKeyComponents { n, e }
                    .verify(params, message, sig)
                    .is_ok()
            }
            Material::Ec { p384, point } => {
                let algorithm = if *p384 {
                    &signature::ECDSA_P384_SHA384_FIXED
                } else {
                    &signature::ECDSA_P256_SHA256_FIXED
                };
                UnparsedPublicKey::new(algorithm, point)
                    .verify(message, sig)
                    .is_ok()
            }
            Material::Ed25519(x) => UnparsedPublicKey::new(&signature::ED25519, x)
                .verify(message, sig)
                .is_ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_symmetric_and_encryption_keys_are_skipped() {
        let set = br#"{"keys":[
            {"kty":"oct","k":"c2VjcmV0","kid":"hmac"},
            {"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"x","kid":"private"},
            {"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","use":"enc","kid":"enc"},
            {"kty":"OKP","crv":"X25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"x"},
            {"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"good"}
        ]}"#;
        let keys = parse_set(set).expect("a set");
        let kids: Vec<_> = keys.iter().map(|k| k.kid.as_deref()).collect();
        assert_eq!(kids, [Some("good")]);
        assert!(keys[0].fits(Algorithm::EdDsa));
        assert!(!keys[0].fits(Algorithm::Es256));
    }

    #[test]
    fn a_set_keeps_at_most_max_keys() {
        let key =
            r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
        let set = format!("{{\"keys\":[{}]}}", vec![key; MAX_KEYS + 5].join(","));
        assert_eq!(parse_set(set.as_bytes()).map(|k| k.len()), Some(MAX_KEYS));
        assert_eq!(parse_set(b"[]"), None);
    }
}
