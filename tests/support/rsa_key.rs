//! An RSA key pair made at test time. ring verifies and signs with RSA but cannot generate
//! keys, so the two primes are found here (random odd numbers from ring's `SystemRandom`, small
//! primes sieved out, then Miller-Rabin) with num-bigint, already in the lock through other test
//! dependencies; ring then checks the components (`KeyPair::from_components`) and signs. Test
//! keys only: nothing here is constant time or meant for real use.

use num_bigint::BigUint;
use ring::rand::{SecureRandom, SystemRandom};
use ring::rsa::{KeyPair, KeyPairComponents, PublicKeyComponents};

/// Bits of the modulus: the least ring accepts (and the least an issuer should use).
pub const MODULUS_BITS: usize = 2048;

/// Miller-Rabin rounds with random bases: a composite passes with probability at most 4^-32.
const ROUNDS: usize = 32;

/// Most candidates tried per prime: about 1 in 355 odd 1024-bit numbers is prime, so this is
/// never reached unless the generator is broken, and then the test fails instead of spinning.
const MAX_CANDIDATES: usize = 100_000;

/// The public exponent every issuer uses.
const E: u32 = 65_537;

/// A generated key: ring's pair for signing, and the public `n` and `e` for the JWK.
pub struct RsaKey {
    pub pair: KeyPair,
    pub n: Vec<u8>,
    pub e: Vec<u8>,
}

/// A fresh 2048-bit key with `e = 65537`.
pub fn generate() -> RsaKey {
    let rng = SystemRandom::new();
    let e = BigUint::from(E);
    let one = BigUint::from(1u32);
    loop {
        let (a, b) = (prime(&rng, &e), prime(&rng, &e));
        if a == b {
            continue;
        }
        // ring wants `qInv = q^-1 mod p`; either order works, so p is the larger.
        let (p, q) = if a > b { (a, b) } else { (b, a) };
        let n = &p * &q;
        let phi = (&p - &one) * (&q - &one);
        let Some(d) = e.modinv(&phi) else { continue };
        let Some(q_inv) = q.modinv(&p) else { continue };
        let components = KeyPairComponents {
            public_key: PublicKeyComponents {
                n: n.to_bytes_be(),
                e: e.to_bytes_be(),
            },
            d: d.to_bytes_be(),
            dP: (&d % (&p - &one)).to_bytes_be(),
            dQ: (&d % (&q - &one)).to_bytes_be(),
            qInv: q_inv.to_bytes_be(),
            p: p.to_bytes_be(),
            q: q.to_bytes_be(),
        };
        let pair = KeyPair::from_components(&components).expect("ring accepts the generated key");
        return RsaKey {
            pair,
            n: components.public_key.n,
            e: components.public_key.e,
        };
    }
}

/// A random prime of half the modulus' bits whose top two bits are set (so `p * q` has all
/// `MODULUS_BITS`), with `gcd(p - 1, e) = 1`.
fn prime(rng: &SystemRandom, e: &BigUint) -> BigUint {
    let small = small_primes();
    let one = BigUint::from(1u32);
    for _ in 0..MAX_CANDIDATES {
        let mut bytes = [0u8; MODULUS_BITS / 16];
        rng.fill(&mut bytes).expect("random bytes");
        bytes[0] |= 0xc0;
        bytes[MODULUS_BITS / 16 - 1] |= 1;
        let candidate = BigUint::from_bytes_be(&bytes);
        if small
            .iter()
            .any(|s| (&candidate % *s) == BigUint::from(0u32))
        {
            continue;
        }
        if (&candidate - &one) % e == BigUint::from(0u32) {
            continue;
        }
        if probably_prime(&candidate, rng) {
            return candidate;
        }
    }
    panic!("no prime in {MAX_CANDIDATES} candidates: the random source is broken");
}

/// The odd primes below 2000, for the sieve.
fn small_primes() -> Vec<u32> {
    (3u32..2000)
        .step_by(2)
        .filter(|n| {
            (3..)
                .step_by(2)
                .take_while(|d| d * d <= *n)
                .all(|d| n % d != 0)
        })
        .collect()
}

fn probably_prime(n: &BigUint, rng: &SystemRandom) -> bool {
    let one = BigUint::from(1u32);
    let two = BigUint::from(2u32);
    let n_minus_one = n - &one;
    let s = n_minus_one.trailing_zeros().unwrap_or(0);
    let d = &n_minus_one >> s;
    'round: for _ in 0..ROUNDS {
        let mut bytes = [0u8; MODULUS_BITS / 16];
        rng.fill(&mut bytes).expect("random bytes");
        let a = BigUint::from_bytes_be(&bytes) % (n - &two - &one) + &two;
        let mut x = a.modpow(&d, n);
        if x == one || x == n_minus_one {
            continue;
        }
        for _ in 1..s {
            x = x.modpow(&two, n);
            if x == n_minus_one {
                continue 'round;
            }
        }
        return false;
    }
    true
}
