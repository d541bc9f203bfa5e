//! The catalog world's coverage marks and kinds of step.

/// A branch of the protocol the world must keep reaching (coverage marks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// A turn's read was newer than the copy: the value was adopted at the turn's start.
    AdoptAtTurnStart,
    /// The race: a process took the lock while its watch still held an undelivered newer value.
    TakeBeforeDelivery,
    /// A delivered value was adopted outside a turn.
    AdoptByDelivery,
    /// A value delivered during a turn was kept for its end.
    DeliveryDeferred,
    /// A deferred value was adopted when its turn ended.
    AdoptAtTurnEnd,
    /// A write committed.
    WriteCommitted,
    /// A write's reply was lost (the write not committed): the statement failed.
    WriteLost,
    /// A write was refused by the register's fence (the writer's lease lost the lock).
    WriteFenced,
    /// A copy was put back after a refused write.
    Restore,
    /// A take failed at once (the register out of reach).
    TakeFailed,
    /// A take gave up waiting for a lock another process held.
    TakeTimedOut,
    /// A take waited for a lock another process held.
    TakeWaited,
    /// A crashed process's lease expired while it held the lock, freeing it.
    LockFreedByExpiry,
    /// A process crashed holding the lock.
    CrashWhileHolding,
    /// A process crashed with its write in flight, and the write committed.
    CrashWriteCommitted,
    /// A connection closed while its statement had its turn.
    ClosedMidTurn,
    /// A connection closed while its statement ran in a task.
    ClosedWhileExecuting,
    /// A statement was refused because too many waited.
    TurnsFull,
    /// A statement in its turn was refused by the permission checks (nothing written).
    RefusedByRules,
    /// A session used the copy during a turn (not while writing).
    UseDuringTurn,
    /// A restarted process waited behind the lock its previous life held.
    RestartBehindOwnLock,
    /// A live process's lease was lost while it held the lock.
    LeaseLostHoldingLock,
}

impl Mark {
    /// Every mark, in index order.
    pub const ALL: [Mark; 22] = [
        Mark::AdoptAtTurnStart,
        Mark::TakeBeforeDelivery,
        Mark::AdoptByDelivery,
        Mark::DeliveryDeferred,
        Mark::AdoptAtTurnEnd,
        Mark::WriteCommitted,
        Mark::WriteLost,
        Mark::WriteFenced,
        Mark::Restore,
        Mark::TakeFailed,
        Mark::TakeTimedOut,
        Mark::TakeWaited,
        Mark::LockFreedByExpiry,
        Mark::CrashWhileHolding,
        Mark::CrashWriteCommitted,
        Mark::ClosedMidTurn,
        Mark::ClosedWhileExecuting,
        Mark::TurnsFull,
        Mark::RefusedByRules,
        Mark::UseDuringTurn,
        Mark::RestartBehindOwnLock,
        Mark::LeaseLostHoldingLock,
    ];

    /// The mark's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Mark::AdoptAtTurnStart => "adopt_at_turn_start",
            Mark::TakeBeforeDelivery => "take_before_delivery",
            Mark::AdoptByDelivery => "adopt_by_delivery",
            Mark::DeliveryDeferred => "delivery_deferred",
            Mark::AdoptAtTurnEnd => "adopt_at_turn_end",
            Mark::WriteCommitted => "write_committed",
            Mark::WriteLost => "write_lost",
            Mark::WriteFenced => "write_fenced",
            Mark::Restore => "restore",
            Mark::TakeFailed => "take_failed",
            Mark::TakeTimedOut => "take_timed_out",
            Mark::TakeWaited => "take_waited",
            Mark::LockFreedByExpiry => "lock_freed_by_expiry",
            Mark::CrashWhileHolding => "crash_while_holding",
            Mark::CrashWriteCommitted => "crash_write_committed",
            Mark::ClosedMidTurn => "closed_mid_turn",
            Mark::ClosedWhileExecuting => "closed_while_executing",
            Mark::TurnsFull => "turns_full",
            Mark::RefusedByRules => "refused_by_rules",
            Mark::UseDuringTurn => "use_during_turn",
            Mark::RestartBehindOwnLock => "restart_behind_own_lock",
            Mark::LeaseLostHoldingLock => "lease_lost_holding_lock",
        }
    }
}

/// Kinds of step, also the index into [`CatalogConfig::weights`](super::CatalogConfig::weights) and
/// [`CatalogStats::steps_by_kind`](super::CatalogStats::steps_by_kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// A client submits a statement on a connection of a process.
    Submit,
    /// A client closes a connection (whatever its statement is doing).
    Close,
    /// A session uses the copy: checks a user's role in a space.
    Use,
    /// The register answers a process's take or write.
    Register,
    /// A process's watch delivers its next value.
    Deliver,
    /// A statement running in a task finishes.
    Task,
    /// A process crashes (its lease expires later).
    Crash,
    /// A crashed process restarts from the register's value.
    Restart,
    /// A live process loses its lease (and so its lock).
    LeaseLost,
    /// Time passes.
    Tick,
}

impl StepKind {
    /// Every kind, in index order.
    pub const ALL: [StepKind; 10] = [
        StepKind::Submit,
        StepKind::Close,
        StepKind::Use,
        StepKind::Register,
        StepKind::Deliver,
        StepKind::Task,
        StepKind::Crash,
        StepKind::Restart,
        StepKind::LeaseLost,
        StepKind::Tick,
    ];

    /// Lower-case name for summaries.
    pub fn name(self) -> &'static str {
        match self {
            StepKind::Submit => "submit",
            StepKind::Close => "close",
            StepKind::Use => "use",
            StepKind::Register => "register",
            StepKind::Deliver => "deliver",
            StepKind::Task => "task",
            StepKind::Crash => "crash",
            StepKind::Restart => "restart",
            StepKind::LeaseLost => "lease_lost",
            StepKind::Tick => "tick",
        }
    }
}
