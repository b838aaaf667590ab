//! A connection's future polled once more, in place, when it woke itself during its own poll.
//!
//! hyper's server (1.12 and 1.13) wakes the connection's task from inside that task's poll on
//! every request with a body: it reads a small body whole with the head, after registering the
//! task as the body channel's sender, and when the service then takes the body the channel
//! wakes that sender although it is gone. tokio takes a task woken during its own poll for one
//! that yields: it queues the task behind the others and wakes a parked worker to steal it. On
//! every `tools/call` (a POST) that was a `futex` call and a second thread woken for nothing,
//! on the path between reading the call and writing the upstream request (docs/performance.md,
//! issue 14, sixth round).
//!
//! [`PollAgainOnSelfWake`] gives the inner future a waker of its own. A wake that arrives while
//! the inner future is being polled is recorded, and the future is polled again at once, while
//! its data is still in the cache; a wake at any other time goes straight to the task's waker.
//! The extra poll is bounded: a future that wakes itself again (tokio's cooperative budget is
//! spent, say) is handed back to the runtime with its wake, as it would have been without this.

use atomic_waker::AtomicWaker;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll, Wake, Waker};

/// Extra polls in one poll of the task. One covers hyper's wake; more would only delay a
/// future that keeps waking itself to yield.
const EXTRA_POLLS: usize = 1;

/// Not being polled: a wake goes to the task.
const IDLE: u8 = 0;
/// Being polled: a wake is recorded.
const POLLING: u8 = 1;
/// Being polled, and woken meanwhile: poll again.
const WOKEN_WHILE_POLLING: u8 = 2;

pub struct PollAgainOnSelfWake<F> {
    inner: Pin<Box<F>>,
    shared: Arc<Shared>,
    /// The waker the inner future sees, made once per connection.
    waker: Waker,
}

struct Shared {
    state: AtomicU8,
    task: AtomicWaker,
}

impl<F: Future> PollAgainOnSelfWake<F> {
    pub fn new(inner: F) -> Self {
        let shared = Arc::new(Shared {
            state: AtomicU8::new(IDLE),
            task: AtomicWaker::new(),
        });
        Self {
            inner: Box::pin(inner),
            waker: Waker::from(Arc::clone(&shared)),
            shared,
        }
    }
}

impl<F: Future> Future for PollAgainOnSelfWake<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        this.shared.task.register(cx.waker());
        let mut inner_cx = Context::from_waker(&this.waker);
        for _ in 0..=EXTRA_POLLS {
            this.shared.state.store(POLLING, Ordering::SeqCst);
            if let Poll::Ready(output) = this.inner.as_mut().poll(&mut inner_cx) {
                this.shared.state.store(IDLE, Ordering::SeqCst);
                return Poll::Ready(output);
            }
            let not_woken = this
                .shared
                .state
                .compare_exchange(POLLING, IDLE, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok();
            if not_woken {
                return Poll::Pending;
            }
        }
        // Still waking itself: the runtime reschedules it, as it would have without this.
        this.shared.state.store(IDLE, Ordering::SeqCst);
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl Wake for Shared {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let recorded = self
            .state
            .compare_exchange(
                POLLING,
                WOKEN_WHILE_POLLING,
                Ordering::SeqCst,
                Ordering::SeqCst,
            )
            .is_ok();
        if !recorded {
            self.task.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Counts the wakes the task receives.
    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A future that wakes itself during its first `self_wakes` polls, then is ready; it counts
    /// its polls.
    struct SelfWaking {
        self_wakes: usize,
        polls: Arc<AtomicUsize>,
    }

    impl Future for SelfWaking {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            self.polls.fetch_add(1, Ordering::SeqCst);
            if self.self_wakes == 0 {
                return Poll::Ready(());
            }
            self.self_wakes -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    fn harness(self_wakes: usize) -> (PollAgainOnSelfWake<SelfWaking>, Arc<AtomicUsize>) {
        let polls = Arc::new(AtomicUsize::new(0));
        let future = SelfWaking {
            self_wakes,
            polls: Arc::clone(&polls),
        };
        (PollAgainOnSelfWake::new(future), polls)
    }

    #[test]
    fn a_wake_during_the_poll_is_answered_by_polling_again_not_by_waking_the_task() {
        let task = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&task));
        let (mut future, polls) = harness(1);
        let poll = Pin::new(&mut future).poll(&mut Context::from_waker(&waker));
        assert!(poll.is_ready());
        assert_eq!(polls.load(Ordering::SeqCst), 2);
        assert_eq!(task.0.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_future_that_keeps_waking_itself_is_handed_back_to_the_runtime_woken() {
        let task = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&task));
        let (mut future, polls) = harness(usize::MAX);
        let poll = Pin::new(&mut future).poll(&mut Context::from_waker(&waker));
        assert!(poll.is_pending());
        assert_eq!(polls.load(Ordering::SeqCst), 1 + EXTRA_POLLS);
        assert_eq!(
            task.0.load(Ordering::SeqCst),
            1,
            "the task must be woken to run again"
        );
    }

    #[test]
    fn a_wake_after_the_poll_reaches_the_task() {
        let task = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&task));
        let mut future = PollAgainOnSelfWake::new(std::future::pending::<()>());
        let poll = Pin::new(&mut future).poll(&mut Context::from_waker(&waker));
        assert!(poll.is_pending());
        // The waker the inner future was given, woken later from elsewhere (an I/O event).
        future.waker.wake_by_ref();
        assert_eq!(task.0.load(Ordering::SeqCst), 1);
    }
}
