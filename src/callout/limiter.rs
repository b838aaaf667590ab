//! Per-target admission: a concurrency cap and a token-bucket rate. Both answer at once: an
//! overloaded target refuses the call (`overloaded`, `rate_limited`) instead of queueing it, so
//! a flood never turns into a hang.

use crate::policy::limits::{Limits, Rate};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub(super) struct Limiter {
    slots: Arc<Semaphore>,
    bucket: Option<Mutex<Bucket>>,
}

struct Bucket {
    rate: Rate,
    tokens: f64,
    last: Instant,
}

/// Why admission failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Overloaded { concurrency: u32 },
    RateLimited { retry_after: Duration },
}

/// Held for the duration of a call; the slot is released when it drops.
pub struct Admission {
    _slot: OwnedSemaphorePermit,
}

impl Limiter {
    pub fn new(limits: &Limits) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(limits.concurrency as usize)),
            bucket: limits.rate.map(|rate| {
                Mutex::new(Bucket {
                    rate,
                    tokens: f64::from(rate.calls),
                    last: Instant::now(),
                })
            }),
        }
    }

    pub fn admit(&self, concurrency: u32) -> Result<Admission, Refusal> {
        let slot = Arc::clone(&self.slots)
            .try_acquire_owned()
            .map_err(|_| Refusal::Overloaded { concurrency })?;
        if let Some(bucket) = &self.bucket {
            // A poisoned lock only means another call panicked mid-update; the bucket's numbers
            // are still usable.
            let mut b = bucket.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let per_second = b.rate.per_second();
            let elapsed = now.duration_since(b.last).as_secs_f64();
            b.tokens = (b.tokens + elapsed * per_second).min(f64::from(b.rate.calls));
            b.last = now;
            if b.tokens < 1.0 {
                let wait = (1.0 - b.tokens) / per_second;
                return Err(Refusal::RateLimited {
                    retry_after: Duration::from_secs_f64(wait),
                });
            }
            b.tokens -= 1.0;
        }
        Ok(Admission { _slot: slot })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrency_refuses_at_once() {
        let l = Limiter::new(&Limits {
            concurrency: 2,
            ..Limits::default()
        });
        let a = l.admit(2).unwrap();
        let _b = l.admit(2).unwrap();
        assert_eq!(
            l.admit(2).err(),
            Some(Refusal::Overloaded { concurrency: 2 })
        );
        drop(a);
        assert!(l.admit(2).is_ok());
    }

    #[test]
    fn rate_refuses_past_the_burst() {
        let rate = Rate {
            calls: 3,
            per: Duration::from_secs(3600),
        };
        let l = Limiter::new(&Limits {
            rate: Some(rate),
            ..Limits::default()
        });
        for _ in 0..3 {
            drop(l.admit(16).unwrap());
        }
        assert!(matches!(l.admit(16), Err(Refusal::RateLimited { .. })));
    }
}
