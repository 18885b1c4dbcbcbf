//! Who last woke the waiters of an Event or Condition, for thread dumps.
//!
//! Written by `set` / `notify` only when they wake somebody (never on the uncontended path),
//! read by thread dumps through a waiter's record. The note is three words (who, where, when)
//! behind a sequence lock, so a wake-up writes it with one compare-and-swap and a few plain
//! stores, and a reader never sees one wake-up's thread with another's site. The waker's name is
//! kept apart, in a two-entry cache of the last threads that woke waiters of the object: a
//! waker already there (the two sides of a ping-pong) does not look its name up again; the name
//! is for a waker that has ended by the time of the dump (a live one is named by the registry).

use std::panic::Location;
use std::sync::atomic::AtomicPtr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

// The note's words are loom's under `cfg(loom)` (the sequence lock is modelled: `loom_models`
// below); the pointer to the cell stays std's, for `LastSignal::new` to be `const`.
use crate::loom::sync::atomic::{self as model, fence, AtomicU64, AtomicUsize, Ordering};

use crate::site::Site;

/// Who last woke the waiters of an Event or Condition (see the module docs). The cell is
/// allocated on the first such wake-up and freed with the object, so an object that never woke
/// anybody costs one null pointer.
pub(crate) struct LastSignal(AtomicPtr<Cell>);

/// One `set()` / `notify()` that woke waiters.
#[derive(Clone, Debug)]
pub(crate) struct Signal {
    /// The thread that called it.
    pub(crate) ident: u64,
    /// Its name, if it is a registered thread and its name was noted (see the module docs): as
    /// it was when it last entered the object's two-name cache. The name, not the handle: a handle
    /// kept here would keep a thread that sets an Event its own handle owns (its join Event)
    /// alive for ever (a reference cycle, found by Miri's leak check).
    #[cfg(not(loom))]
    pub(crate) thread: Option<Arc<str>>,
    /// Its call site (a binding's caller's, if it set one).
    pub(crate) site: Site,
    /// When, on the [`clock`](super::record::clock).
    pub(crate) at: Duration,
}

/// The note: a sequence lock over `ident`, `site` and `at`, and the names.
struct Cell {
    /// Even when the three words below are a complete note; odd while a waker writes them.
    seq: AtomicUsize,
    ident: AtomicU64,
    site: model::AtomicPtr<u8>,
    /// Nanoseconds on the clock.
    at: AtomicU64,
    /// The identifiers in `names`, readable without its lock (0: empty; no thread has 0).
    named: [AtomicU64; 2],
    /// The last two wakers' names, `named[i]`'s in `names[i]`.
    names: Mutex<[Option<Arc<str>>; 2]>,
}

impl Cell {
    fn new() -> Cell {
        Cell {
            seq: AtomicUsize::new(0),
            ident: AtomicU64::new(0),
            site: model::AtomicPtr::new(std::ptr::null_mut()),
            at: AtomicU64::new(0),
            named: [AtomicU64::new(0), AtomicU64::new(0)],
            names: Mutex::new([None, None]),
        }
    }

    /// Writes a note; false if it left it to another waker: one that finds another writing
    /// leaves the note to it (the two wake-ups are concurrent, and either may stand as the
    /// last).
    fn write(&self, ident: u64, site: Site, at: Duration) -> bool {
        // Acquire on the claim: the previous writer's words (before its even, `Release`
        // sequence) come before this writer's, so that a later note cannot end up with an
        // earlier writer's word in one place (found by the loom model below with `Relaxed`:
        // a note of one waker with another's time, after both were done).
        let seq = self.seq.load(Ordering::Relaxed);
        if seq & 1 != 0
            || self
                .seq
                .compare_exchange(seq, seq + 1, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return false;
        }
        // The odd sequence is ordered before the words (a reader that sees a word of this
        // note sees the odd sequence, or a later one, when it checks again). Mutant (loom
        // only): without it.
        #[cfg(not(all(loom, threadkit_mutant = "last_signal_writer_unfenced")))]
        fence(Ordering::Release);
        self.ident.store(ident, Ordering::Relaxed);
        self.site.store(site.as_ptr(), Ordering::Relaxed);
        self.at.store(at.as_nanos() as u64, Ordering::Relaxed);
        self.seq.store(seq + 2, Ordering::Release);
        true
    }

    /// Reads a complete note: `(ident, site, at)`, or `None` before the first one is complete,
    /// or when a writer never finishes (about [`READ_YIELDS`] yields: a child forked while a
    /// waker wrote inherits an odd sequence that nobody will make even; its dumps then show no
    /// note rather than hang).
    fn read(&self) -> Option<(u64, Site, Duration)> {
        let mut spins = 0u32;
        loop {
            let before = self.seq.load(Ordering::Acquire);
            if before & 1 == 0 {
                let ident = self.ident.load(Ordering::Relaxed);
                let site = self.site.load(Ordering::Relaxed);
                let at = self.at.load(Ordering::Relaxed);
                // The words are read before the sequence is read again. Mutant (loom only):
                // without it.
                #[cfg(not(all(loom, threadkit_mutant = "last_signal_reader_unfenced")))]
                fence(Ordering::Acquire);
                if self.seq.load(Ordering::Relaxed) == before {
                    if before == 0 {
                        return None;
                    }
                    // SAFETY: only `Site::as_ptr`s are stored there, and a complete note's
                    // site is non-null.
                    let site = unsafe { Site::from_ptr(site) }?;
                    return Some((ident, site, Duration::from_nanos(at)));
                }
            }
            // A waker is writing: it stores three words and is done.
            spins += 1;
            #[cfg(loom)]
            {
                // Loom: one retry is enough to see a writer finish; each would be explored.
                if spins > 1 {
                    return None;
                }
                crate::loom::yield_now();
                continue;
            }
            #[cfg_attr(loom, allow(unreachable_code))]
            if spins < 100 {
                std::hint::spin_loop();
            } else if spins < 100 + READ_YIELDS {
                std::thread::yield_now();
            } else {
                return None;
            }
        }
    }

    /// Notes the calling thread's name if it is not one of the two noted.
    #[cfg(not(loom))]
    #[inline]
    fn name(&self, ident: u64) {
        if self.named[0].load(Ordering::Relaxed) != ident
            && self.named[1].load(Ordering::Relaxed) != ident
        {
            self.name_slow(ident);
        }
    }

    /// [`name`](Self::name) for a thread not noted.
    #[cfg(not(loom))]
    #[cold]
    #[inline(never)]
    fn name_slow(&self, ident: u64) {
        // An unregistered thread is noted without a name (a dump names it by its identifier),
        // so that it does not look itself up at every wake-up either. The name's lock is only
        // tried, as the names' below: in a child forked while a thread of the parent held it,
        // nobody will give it back (the next wake-up tries again).
        let name = match crate::thread::registry::current_if_known() {
            Some(thread) => match thread.try_name() {
                Some(name) => Some(name),
                None => return,
            },
            None => None,
        };
        self.note_if_last(ident, name);
    }

    /// Notes `name` as `ident`'s, in place of the older of the two noted; skipped if another
    /// thread holds the names (a concurrent waker or dump, or, in a child forked while one held
    /// them, nobody who will ever give them back: a waker there must not hang).
    #[cfg(all(test, not(loom)))]
    fn note(&self, ident: u64, name: Option<Arc<str>>) {
        self.note_names(ident, name, false);
    }

    /// [`note`](Self::note) for the waker whose note was written last: skipped if a later
    /// waker's note has replaced it meanwhile, whose name this one's would push out of the
    /// cache (that waker notes its own).
    #[cfg(not(loom))]
    fn note_if_last(&self, ident: u64, name: Option<Arc<str>>) {
        self.note_names(ident, name, true);
    }

    #[cfg(not(loom))]
    fn note_names(&self, ident: u64, name: Option<Arc<str>>, only_if_last: bool) {
        let Some(mut names) = try_lock(&self.names) else {
            return;
        };
        if only_if_last && self.ident.load(Ordering::Relaxed) != ident {
            return;
        }
        // Entry 0 is the newer one: the older, now in entry 0, gives way.
        names.swap(0, 1);
        let newer = self.named[0].load(Ordering::Relaxed);
        self.named[1].store(newer, Ordering::Relaxed);
        self.named[0].store(ident, Ordering::Relaxed);
        let dropped = std::mem::replace(&mut names[0], name);
        drop(names);
        drop(dropped);
    }

    /// The noted name of `ident`, if any. Waits a little for a waker noting a name, and gives
    /// up (no name) after [`READ_YIELDS`] yields, as [`read`](Self::read) does.
    #[cfg(not(loom))]
    fn name_of(&self, ident: u64) -> Option<Arc<str>> {
        let names = (0..READ_YIELDS).find_map(|_| {
            try_lock(&self.names).or_else(|| {
                std::thread::yield_now();
                None
            })
        })?;
        (0..2)
            .find(|&i| self.named[i].load(Ordering::Relaxed) == ident)
            .and_then(|i| names[i].clone())
    }
}

impl LastSignal {
    pub(crate) const fn new() -> Self {
        LastSignal(AtomicPtr::new(std::ptr::null_mut()))
    }

    /// The cell, allocated on first use.
    #[inline]
    fn cell(&self) -> &Cell {
        let cell = self.0.load(Ordering::Acquire);
        if cell.is_null() {
            return self.first_cell();
        }
        // SAFETY: a non-null pointer is a live cell, freed only by `drop` (`&mut self`).
        unsafe { &*cell }
    }

    /// [`cell`](Self::cell) the first time.
    #[cold]
    #[inline(never)]
    fn first_cell(&self) -> &Cell {
        let fresh = Box::into_raw(Box::new(Cell::new()));
        let cell = match self.0.compare_exchange(
            std::ptr::null_mut(),
            fresh,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => fresh,
            Err(now) => {
                // Another waker allocated first.
                // SAFETY: `fresh` came from `Box::into_raw` above and was never shared.
                drop(unsafe { Box::from_raw(fresh) });
                now
            }
        };
        // SAFETY: as in `cell`.
        unsafe { &*cell }
    }

    /// Records that the calling thread, at `site`, has just woken waiters.
    #[cold]
    pub(crate) fn record(&self, site: &'static Location<'static>) {
        let ident = crate::thread::ident::current();
        let cell = self.cell();
        // The name only with a note written: a waker whose note gave way to another's must not
        // push the writer's name out of the cache.
        let wrote = cell.write(ident, crate::site::resolve(site), super::record::clock());
        #[cfg(not(loom))]
        if wrote {
            cell.name(ident);
        }
        #[cfg(loom)]
        let _ = wrote;
    }

    /// The last recorded wake-up, if any.
    pub(crate) fn get(&self) -> Option<Signal> {
        let cell = self.0.load(Ordering::Acquire);
        // SAFETY: as in `cell`.
        let cell = unsafe { cell.as_ref() }?;
        let (ident, site, at) = cell.read()?;
        Some(Signal {
            ident,
            #[cfg(not(loom))]
            thread: cell.name_of(ident),
            site,
            at,
        })
    }
}

impl Drop for LastSignal {
    fn drop(&mut self) {
        let cell = *self.0.get_mut();
        if !cell.is_null() {
            // SAFETY: allocated by `cell` with `Box::into_raw`, and nobody else can hold it
            // now (`&mut self`; readers only follow it while the object is borrowed).
            drop(unsafe { Box::from_raw(cell) });
        }
    }
}

/// How many times a dump's read yields to a writer before it gives up (see [`Cell::read`]).
const READ_YIELDS: u32 = 1_000;

/// The lock if it is free (never poisoned in practice: nothing panics while holding it).
fn try_lock<T>(m: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    match m.try_lock() {
        Ok(guard) => Some(guard),
        Err(std::sync::TryLockError::Poisoned(e)) => Some(e.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => None,
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    /// Wakers write notes whose three words belong together (site and time are functions of
    /// the identifier) while readers read: every note read must be one whole note, never one
    /// waker's identifier with another's site or time. Witness: the readers' check of each note,
    /// and the count of notes they read (they must have read some). Two writers (their
    /// compare-and-swap races) and two readers, for a fixed time rather than a fixed count, so
    /// that a slow build still interleaves them for as long.
    #[test]
    fn a_note_is_never_torn() {
        let sites = [Site::foreign("torn-a.py", 1), Site::foreign("torn-b.py", 2)];
        let run_for = Duration::from_millis(if cfg!(miri) { 20 } else { 800 });
        let cell = Arc::new(Cell::new());
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..2u64)
            .map(|w| {
                let (cell, stop) = (Arc::clone(&cell), Arc::clone(&stop));
                std::thread::spawn(move || {
                    let mut i = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        // Writer w writes ident 10 + w (even i) and 12 + w (odd i), each with its
                        // own site, at a time whose parity is the ident's.
                        let ident = 10 + w + 2 * (i & 1);
                        let site = sites[(ident & 1) as usize];
                        cell.write(ident, site, Duration::from_nanos(i * 2 + (ident & 1)));
                        i += 1;
                    }
                })
            })
            .collect();
        let read = move |cell: &Cell, stop: &AtomicBool| {
            let mut read = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if let Some((ident, site, at)) = cell.read() {
                    assert!((10..14).contains(&ident), "identifier {ident}");
                    let w = (ident & 1) as usize;
                    assert_eq!(site, sites[w], "torn note: {ident} with {site:?}");
                    assert_eq!(at.as_nanos() % 2, w as u128, "torn note: {ident} at {at:?}");
                    read += 1;
                }
            }
            read
        };
        let reader = {
            let (cell, stop) = (Arc::clone(&cell), Arc::clone(&stop));
            std::thread::spawn(move || read(&cell, &stop))
        };
        let stopper = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                std::thread::sleep(run_for);
                stop.store(true, Ordering::Relaxed);
            })
        };
        let here = read(&cell, &stop);
        stopper.join().unwrap();
        for w in writers {
            w.join().unwrap();
        }
        let there = reader.join().unwrap();
        assert!(here + there > 0, "the readers read no note");
        assert!((10..14).contains(&cell.read().expect("a note").0));
    }

    /// A note whose writer never finishes (a child forked while a waker wrote inherits its odd
    /// sequence) and names held for ever (forked while a waker held them) never hang a dump or
    /// a waker: the read gives up with no note, the noting is skipped, the name look-up gives
    /// up with no name. Witness: each call returns, with nothing.
    #[test]
    fn a_stalled_writer_never_hangs_a_reader_or_a_waker() {
        let cell = Cell::new();
        cell.seq.store(1, Ordering::Relaxed);
        assert!(cell.read().is_none());
        let held = cell.names.lock().unwrap();
        cell.note(5, Some(Arc::from("five")));
        assert_eq!(cell.name_of(5), None);
        drop(held);
        cell.note(5, Some(Arc::from("five")));
        assert_eq!(cell.name_of(5).as_deref(), Some("five"));
    }

    /// A waker's name is noted once per object while it stays one of the last two wakers, and
    /// an older waker's name leaves for a third's. Witness: the names found by identifier.
    #[test]
    fn names_of_the_last_two_wakers() {
        let cell = Cell::new();
        let noted = |ident: u64, name: &str| cell.note(ident, Some(Arc::from(name)));
        noted(5, "five");
        noted(6, "six");
        assert_eq!(cell.name_of(5).as_deref(), Some("five"));
        assert_eq!(cell.name_of(6).as_deref(), Some("six"));
        noted(7, "seven");
        assert_eq!(cell.name_of(5), None);
        assert_eq!(cell.name_of(6).as_deref(), Some("six"));
        assert_eq!(cell.name_of(7).as_deref(), Some("seven"));
        // The calling thread (registered by asking for it) is noted once.
        let me = crate::thread::ident::current();
        let _ = crate::current_thread();
        // As `LastSignal::record` does: a written note, then its waker's name.
        let here = crate::site::resolve(std::panic::Location::caller());
        assert!(cell.write(me, here, Duration::ZERO));
        cell.name(me);
        cell.name(me);
        assert_eq!(cell.name_of(me), Some(crate::current_thread().name()));
        assert_eq!(cell.name_of(7).as_deref(), Some("seven"), "noted twice");
    }
}

#[cfg(all(test, not(loom)))]
mod name_order_tests {
    use super::*;

    /// A waker that comes to note its name after a later waker's note replaced its own leaves
    /// the names alone: its name would push out the name of the waker the note shows. Witness:
    /// the names found by identifier, and the note's identifier.
    #[test]
    fn a_late_waker_does_not_push_out_the_last_wakers_name() {
        let cell = Cell::new();
        let here = crate::site::resolve(std::panic::Location::caller());
        for (ident, at) in [(5, 1), (6, 2), (7, 3)] {
            assert!(cell.write(ident, here, Duration::from_nanos(at)));
        }
        // 7, the last, notes its name; 5 and 6, delayed between their writes and their
        // noting, come after it. Without the check they would leave [6, 5] and 7 nameless.
        cell.note_if_last(7, Some(Arc::from("seven")));
        cell.note_if_last(5, Some(Arc::from("five")));
        cell.note_if_last(6, Some(Arc::from("six")));
        assert_eq!(cell.read().map(|(ident, _, _)| ident), Some(7));
        assert_eq!(cell.name_of(7).as_deref(), Some("seven"));
        assert_eq!((cell.name_of(5), cell.name_of(6)), (None, None));
    }

    /// A waker whose record's name lock is taken (in a forked child, by a thread of the parent
    /// that will never give it back) notes nothing rather than wait, and notes its name at a
    /// later wake-up. Here the waker itself holds its name's lock while it wakes (the
    /// non-reentrant lock would never be free for it); checked from another thread, so that a
    /// wait is a failed assertion, not a hung test.
    #[test]
    fn a_waker_whose_name_is_locked_does_not_wait_for_it() {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let cell = Cell::new();
            let here = crate::site::resolve(std::panic::Location::caller());
            let me = crate::current_thread();
            let ident = crate::thread::ident::current();
            let named_while_held = me.with_name(|_| {
                assert!(cell.write(ident, here, Duration::ZERO));
                cell.name(ident);
                cell.name_of(ident)
            });
            cell.name(ident);
            tx.send((named_while_held, cell.name_of(ident), me.name()))
                .unwrap();
        });
        let (while_held, after, name) = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the waker waited for its own name's lock");
        assert_eq!(while_held, None);
        assert_eq!(after, Some(name));
    }
}

/// The note's sequence lock under loom: two wakers write notes while a dump reads. Safety, with
/// a witness in each note (its site and time are functions of its identifier): a read returns
/// a whole note or none, never one waker's identifier with another's site or time; once both
/// wakers are done, the note is one whose write returned true (a waker that left the note to
/// another wrote nothing). Mutants `last_signal_reader_unfenced` and
/// `last_signal_writer_unfenced` (the fences of `read` and `write` left out) must fail here.
#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use loom::sync::Arc;
    use loom::thread;

    /// Ident 10 writes site A at time 0; ident 11 site B at time 1.
    fn sites() -> [Site; 2] {
        [Site::foreign("note-a.py", 1), Site::foreign("note-b.py", 2)]
    }

    fn write(cell: &Cell, ident: u64) -> bool {
        let w = (ident & 1) as usize;
        cell.write(ident, sites()[w], Duration::from_nanos(w as u64))
    }

    fn check(note: Option<(u64, Site, Duration)>) -> Option<u64> {
        let (ident, site, at) = note?;
        assert!(ident == 10 || ident == 11, "identifier {ident}");
        let w = (ident & 1) as usize;
        assert_eq!(site, sites()[w], "torn note: {ident} with {site:?}");
        assert_eq!(at.as_nanos(), w as u128, "torn note: {ident} at {at:?}");
        Some(ident)
    }

    /// One waker writes twice (so that a read can overlap its second note after seeing its
    /// first complete), another once, a dump reads in between.
    #[test]
    fn a_read_note_is_whole_and_the_last_is_a_written_one() {
        let _ = sites();
        loom::model(|| {
            let cell = Arc::new(Cell::new());
            let other = thread::spawn({
                let cell = Arc::clone(&cell);
                move || write(&cell, 11)
            });
            let reader = thread::spawn({
                let cell = Arc::clone(&cell);
                move || check(cell.read())
            });
            let first = write(&cell, 10);
            let second = write(&cell, 10);
            let other_wrote = other.join().unwrap();
            let _ = reader.join().unwrap();
            let last = check(cell.read()).expect("a note, with both wakers done");
            match last {
                10 => assert!(first || second, "a note no write of 10 stood for"),
                _ => assert!(other_wrote, "a note 11 left to another"),
            }
        });
    }
}
