//! The text of a thread dump, as a person reads it (JVM-like, with names and durations inline).

use std::borrow::Borrow;
use std::fmt;
use std::time::Duration;

use super::snapshot::{ThreadDump, ThreadSnapshot, WaitInfo};
use crate::wait::WaitKind;

/// `src/bank.rs:42` (or a binding's caller's `app.py:12`).
pub(crate) fn site(site: impl Borrow<crate::site::Site>) -> String {
    site.borrow().to_string()
}

/// `2.31s`.
pub(crate) fn secs(d: Duration) -> String {
    format!("{:.2}s", d.as_secs_f64())
}

impl fmt::Display for ThreadDump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.threads.len();
        let d = self.deadlocks.len();
        writeln!(
            f,
            "threadkit thread dump ({n} thread{}, {d} deadlock{})",
            if n == 1 { "" } else { "s" },
            if d == 1 { "" } else { "s" }
        )?;
        if !self.held_complete {
            writeln!(
                f,
                "(held locks: only those a thread waits for; arm the lock-order checker to list \
                 every lock held: diagnostics::set_lock_order_mode(LockOrderMode::Report) or \
                 THREADKIT_LOCK_ORDER=report)"
            )?;
        }
        for t in &self.threads {
            writeln!(f)?;
            write!(f, "{t}")?;
        }
        for dl in &self.deadlocks {
            writeln!(f)?;
            write!(f, "{dl}")?;
        }
        Ok(())
    }
}

impl fmt::Display for ThreadSnapshot {
    /// The thread's paragraph of a dump: header line, its wait, the locks it holds.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\" #{}", self.thread.name, self.thread.ident)?;
        if self.daemon == Some(true) {
            write!(f, " daemon")?;
        }
        if let Some(tid) = self.native_id {
            write!(f, " [tid {tid}]")?;
        }
        write!(f, " {}", self.state.as_str())?;
        if let Some(w) = &self.waiting {
            write!(f, " for {}", secs(w.waited))?;
            if let Some(left) = w.timeout_in {
                write!(f, " (timeout in {})", secs(left))?;
            }
        }
        writeln!(f)?;
        if let Some(w) = &self.waiting {
            write!(f, "{w}")?;
        }
        for h in &self.holding {
            write!(f, "    holding {}", h.object)?;
            if h.count > 1 {
                write!(f, " (count {})", h.count)?;
            }
            if let Some(at) = h.acquired_at {
                write!(f, ", acquired at {}", site(at))?;
            }
            if let Some(d) = h.held_for {
                write!(f, ", for {}", secs(d))?;
            }
            if h.waiters > 0 {
                write!(
                    f,
                    "; {} waiting, the longest for {}",
                    h.waiters,
                    secs(h.contended_for)
                )?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

impl fmt::Display for WaitInfo {
    /// The indented lines that say what a thread waits on, and who holds it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = site(self.site);
        match (&self.object, &self.joining) {
            (_, Some(t)) => write!(f, "    waiting to join \"{}\" #{} at {at}", t.name, t.ident)?,
            (Some(o), None) => {
                match &self.reacquiring_after {
                    Some(_) => write!(f, "    waiting to re-acquire {o}")?,
                    None => write!(f, "    waiting {} {o}", self.kind.phrase())?,
                }
                if let (Some(_), Some(at)) = (&o.name, o.created_at) {
                    write!(f, " (created at {})", site(at))?;
                }
                if let Some(c) = &self.reacquiring_after {
                    write!(f, " after waiting on {c}")?;
                }
                write!(f, " at {at}")?;
            }
            (None, None) => write!(f, "    waiting in {} at {at}", kind_phrase(self.kind))?,
        }
        if let Some(status) = &self.status {
            write!(f, " ({status})")?;
        }
        writeln!(f)?;
        if let Some(h) = &self.holder {
            write!(
                f,
                "        held by \"{}\" #{}",
                h.thread.name, h.thread.ident
            )?;
            if h.count > 1 {
                write!(f, " (count {})", h.count)?;
            }
            if let Some(a) = h.acquired_at {
                write!(f, ", acquired at {}", site(a))?;
            }
            writeln!(f)?;
        }
        if matches!(self.kind, WaitKind::Event | WaitKind::Condition) {
            let (verb, call) = if self.kind == WaitKind::Event {
                ("set", "set()")
            } else {
                ("notified", "notify()")
            };
            match &self.last_signal {
                Some(s) => writeln!(
                    f,
                    "        last {verb} by \"{}\" #{} at {}, {} ago",
                    s.thread.name,
                    s.thread.ident,
                    site(s.site),
                    secs(s.ago)
                )?,
                None => writeln!(f, "        no {call} has woken a waiter yet")?,
            }
        }
        Ok(())
    }
}

/// For waits with no object: what the thread is in.
fn kind_phrase(kind: WaitKind) -> &'static str {
    match kind {
        WaitKind::QueueGet => "a queue get",
        WaitKind::QueuePut => "a queue put",
        WaitKind::QueueJoin => "a queue join",
        WaitKind::Timer => "the timer service",
        _ => "a wait",
    }
}
