//! The stages of a permitted call, reported as they happen. The callout reports them and the
//! MCP layer turns them into progress notifications; neither needs the other.

/// A stage of a permitted call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// `decide` allowed the call; the request is about to go out.
    Permitted,
    /// The upstream's response headers arrived.
    Headers { status: u16 },
    /// The body was read (up to its cap).
    Body { bytes: u64 },
}

/// Receives the stages of a call.
pub trait Progress: Send + Sync {
    fn report(&self, stage: Stage);
}

/// No progress reporting.
pub struct NoProgress;

impl Progress for NoProgress {
    fn report(&self, _: Stage) {}
}
