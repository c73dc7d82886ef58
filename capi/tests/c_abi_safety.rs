//! The C ABI's promises about frees, waits and the log sink under concurrency, called through
//! the exported functions as a C host calls them: freeing an event stream wakes its blocked
//! reader, a log sink may re-enter the library, and once `lcd_set_log_sink` returns the old
//! callback has stopped. (Its own test binary: the log sink is process-wide, so the tests that
//! register one take turns through `SINK_TESTS`.)

#[path = "../../tests/common/mod.rs"]
mod common;

use std::ffi::{c_char, c_void, CStr};
use std::os::fd::AsRawFd;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use libcontainerd_capi::client::{lcd_client, lcd_client_connect, lcd_client_free, lcd_client_version};
use libcontainerd_capi::asynchronous::container::lcd_container_load_async;
use libcontainerd_capi::events::{
    lcd_client_subscribe, lcd_event, lcd_event_free, lcd_event_stream, lcd_event_stream_free, lcd_event_stream_next,
    lcd_event_stream_set_ready_callback, lcd_event_stream_try_next,
};
use libcontainerd_capi::logging::{lcd_log_field, lcd_log_level, lcd_set_log_sink};
use libcontainerd_capi::asynchronous::finish::lcd_pending_finish_container;
use libcontainerd_capi::asynchronous::pending::{lcd_pending, lcd_pending_fd, lcd_pending_free, lcd_pending_notify};
use libcontainerd_capi::{lcd_cancel_free, lcd_cancel_new, lcd_error, lcd_error_free, lcd_status};

/// The tests that register a log sink run one at a time.
static SINK_TESTS: Mutex<()> = Mutex::new(());

fn connect(test: &str) -> *mut lcd_client {
    let ns = namespace(test);
    let socket = testbed().socket.to_str().unwrap().to_owned();
    let state = state_dir(&ns).to_str().unwrap().to_owned();
    let mut client = ptr::null_mut();
    let status = unsafe {
        lcd_client_connect(
            socket.as_ptr(),
            socket.len(),
            ns.as_ptr(),
            ns.len(),
            state.as_ptr(),
            state.len(),
            ptr::null(),
            &mut client,
            ptr::null_mut(),
        )
    };
    assert_eq!(status, lcd_status::LCD_OK, "connect to the test bed");
    client
}

/// A raw handle moved to another thread (the C ABI makes the handles thread-safe).
struct Shared<T>(*mut T);
unsafe impl<T> Send for Shared<T> {}
impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Shared<T> {}

/// Runs `body` on its own thread and fails the test when it has not returned within `limit`
/// (a deadlock then leaves that thread behind instead of hanging the test).
fn within<T: Send + 'static>(limit: Duration, what: &str, body: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(body());
    });
    rx.recv_timeout(limit).unwrap_or_else(|_| panic!("{what}: still running after {limit:?} (deadlock or lost wake-up)"))
}

#[test]
fn freeing_an_event_stream_wakes_its_blocked_reader_with_cancelled() {
    let client = connect("stream-free");
    for round in 0..20 {
        let mut stream: *mut lcd_event_stream = ptr::null_mut();
        assert_eq!(unsafe { lcd_client_subscribe(client, &mut stream, ptr::null_mut()) }, lcd_status::LCD_OK);
        let reader_stream = Shared(stream);
        let (started_tx, started_rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            let reader_stream = reader_stream;
            // A long deadline: the reader must be woken by the free, not by its own deadline.
            let deadline = lcd_cancel_new(60_000);
            let mut event: *mut lcd_event = ptr::null_mut();
            started_tx.send(()).unwrap();
            let started = Instant::now();
            let status = unsafe { lcd_event_stream_next(reader_stream.0, deadline, &mut event, ptr::null_mut()) };
            unsafe { lcd_cancel_free(deadline) };
            unsafe { lcd_event_free(event) };
            (status, started.elapsed())
        });
        started_rx.recv().unwrap();
        // Freed once the reader waits (a call may not begin after the free, so not sooner).
        std::thread::sleep(Duration::from_millis(if round == 0 { 200 } else { 20 }));
        unsafe { lcd_event_stream_free(stream) };
        let (status, waited) = within(Duration::from_secs(10), "reader of a freed stream", move || reader.join().unwrap());
        assert_eq!(status, lcd_status::LCD_CANCELLED, "round {round}: the blocked reader returns LCD_CANCELLED");
        assert!(waited < Duration::from_secs(5), "round {round}: woken promptly, not at its deadline ({waited:?})");
        // The stream is gone at once: the client may open the next one right away.
        let mut next: *mut lcd_event_stream = ptr::null_mut();
        assert_eq!(
            unsafe { lcd_client_subscribe(client, &mut next, ptr::null_mut()) },
            lcd_status::LCD_OK,
            "round {round}: a new stream opens right after the free"
        );
        unsafe { lcd_event_stream_free(next) };
    }
    unsafe { lcd_client_free(client) };
}

/// What the ready callback of `a_ready_callback_may_free_its_stream_and_free_waits_for_a_running_one`
/// sees: how it was called, and what it does on its first call.
struct ReadyProbe {
    calls: AtomicUsize,
    /// The stream the callback frees from inside its first call (null: it sleeps instead).
    free_from_inside: AtomicPtr<lcd_event_stream>,
    /// Set while a call runs; a call after the free returned is a broken promise.
    running: AtomicBool,
    after_free: AtomicBool,
    entered: Mutex<Option<mpsc::Sender<()>>>,
}

unsafe extern "C" fn ready_probe(user_data: *mut c_void) {
    let probe = unsafe { &*(user_data as *const ReadyProbe) };
    if probe.after_free.load(Ordering::SeqCst) {
        panic!("the ready callback ran after lcd_event_stream_free returned");
    }
    probe.running.store(true, Ordering::SeqCst);
    if probe.calls.fetch_add(1, Ordering::SeqCst) == 0 {
        if let Some(entered) = probe.entered.lock().unwrap().take() {
            let _ = entered.send(());
        }
        let stream = probe.free_from_inside.swap(ptr::null_mut(), Ordering::SeqCst);
        if stream.is_null() {
            std::thread::sleep(Duration::from_millis(300));
        } else {
            // Re-entering: take what is queued, then free the stream from inside its callback.
            let mut event: *mut lcd_event = ptr::null_mut();
            let status = unsafe { lcd_event_stream_try_next(stream, &mut event, ptr::null_mut()) };
            assert_eq!(status, lcd_status::LCD_OK, "try_next from inside the ready callback");
            unsafe { lcd_event_free(event) };
            unsafe { lcd_event_stream_free(stream) };
        }
    }
    probe.running.store(false, Ordering::SeqCst);
}

#[test]
fn a_ready_callback_may_free_its_stream_and_free_waits_for_a_running_one() {
    let core = client("ready-callback");
    let client = connect("ready-callback");
    for free_inside in [true, false] {
        // Freed at the end of the round: once the stream is freed the callback never runs again.
        let owned = Box::into_raw(Box::new(ReadyProbe {
            calls: AtomicUsize::new(0),
            free_from_inside: AtomicPtr::new(ptr::null_mut()),
            running: AtomicBool::new(false),
            after_free: AtomicBool::new(false),
            entered: Mutex::new(None),
        }));
        let probe = unsafe { &*owned };
        let (entered_tx, entered) = mpsc::channel();
        *probe.entered.lock().unwrap() = Some(entered_tx);
        let mut stream: *mut lcd_event_stream = ptr::null_mut();
        assert_eq!(unsafe { lcd_client_subscribe(client, &mut stream, ptr::null_mut()) }, lcd_status::LCD_OK);
        if free_inside {
            probe.free_from_inside.store(stream, Ordering::SeqCst);
        }
        let status = unsafe {
            lcd_event_stream_set_ready_callback(stream, Some(ready_probe), probe as *const ReadyProbe as *mut c_void, ptr::null_mut())
        };
        assert_eq!(status, lcd_status::LCD_OK);

        let id = if free_inside { "freed-inside" } else { "freed-outside" };
        let container = create_container(&core, id, &["true"], false).unwrap();
        let task = run(libcontainerd::Task::create(&container, false)).unwrap();
        entered.recv_timeout(Duration::from_secs(10)).expect("the ready callback runs for a task event");
        if !free_inside {
            // The callback is asleep inside its first call: the free must wait for it.
            let stream = Shared(stream);
            within(Duration::from_secs(10), "free while the ready callback runs", move || {
                let stream = stream;
                unsafe { lcd_event_stream_free(stream.0) }
            });
            assert!(!probe.running.load(Ordering::SeqCst), "lcd_event_stream_free returned while its callback ran");
        } else {
            until("the callback's free of its own stream", Duration::from_secs(10), || {
                probe.free_from_inside.load(Ordering::SeqCst).is_null() && !probe.running.load(Ordering::SeqCst)
            });
        }
        probe.after_free.store(true, Ordering::SeqCst);
        run(task.start()).unwrap();
        run(task.wait()).unwrap();
        run(task.delete()).unwrap();
        run(container.delete()).unwrap();
        // The client may open a new stream: the old one is gone either way.
        let mut next: *mut lcd_event_stream = ptr::null_mut();
        assert_eq!(unsafe { lcd_client_subscribe(client, &mut next, ptr::null_mut()) }, lcd_status::LCD_OK);
        unsafe { lcd_event_stream_free(next) };
        drop(unsafe { Box::from_raw(owned) });
    }
    let status = unsafe { lcd_event_stream_set_ready_callback(ptr::null(), None, ptr::null_mut(), ptr::null_mut()) };
    assert_eq!(status, lcd_status::LCD_INVALID_ARGUMENT, "a NULL stream is refused");
    unsafe { lcd_client_free(client) };
}

/// The pending call the re-entering sink looks at.
static REENTRY_PENDING: AtomicPtr<lcd_pending> = AtomicPtr::new(ptr::null_mut());
static REENTRY_CALLS: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn reentering_sink(
    _user_data: *mut c_void,
    _level: lcd_log_level,
    _target: *const c_char,
    message: *const c_char,
    _fields: *const lcd_log_field,
    _n_fields: usize,
) {
    let message = unsafe { CStr::from_ptr(message) }.to_string_lossy();
    if message.contains("cannot notify") {
        // A host that reacts to the warning by looking at the call it is about.
        let pending = REENTRY_PENDING.load(Ordering::SeqCst);
        if !pending.is_null() {
            unsafe { lcd_pending_fd(pending) };
            REENTRY_CALLS.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// The "cannot notify the caller's descriptor" warning goes to the sink without a library lock
/// held: a sink that calls back into the same pending call neither deadlocks the call nor the
/// library's worker thread (which would stop every later call, deadlines included).
#[test]
fn a_log_sink_may_reenter_the_pending_call_whose_notification_failed() {
    let _turn = SINK_TESTS.lock().unwrap_or_else(|p| p.into_inner());
    let client = connect("sink-reentry");
    // Writing to a read-only descriptor fails (EBADF): the notification cannot be delivered.
    let read_only = std::fs::File::open("/dev/null").unwrap();
    unsafe { lcd_set_log_sink(Some(reentering_sink), ptr::null_mut(), lcd_log_level::LCD_LOG_WARN as i32) };
    let shared_client = Shared(client);
    let fd = read_only.as_raw_fd();
    // Twice: the failed notification is reported on the worker thread when the descriptor is
    // set before the call finishes, and on the caller's thread when it is set after.
    for notify_late in [false, true] {
        let before = REENTRY_CALLS.load(Ordering::SeqCst);
        within(Duration::from_secs(20), "async call with a failing notification descriptor", move || {
            let shared_client = shared_client;
            let id = "no-such-container";
            let mut pending: *mut lcd_pending = ptr::null_mut();
            let status = unsafe {
                lcd_container_load_async(shared_client.0, id.as_ptr(), id.len(), ptr::null(), &mut pending, ptr::null_mut())
            };
            assert_eq!(status, lcd_status::LCD_OK);
            REENTRY_PENDING.store(pending, Ordering::SeqCst);
            if notify_late {
                let fd = unsafe { lcd_pending_fd(pending) };
                let mut poll = [nix::poll::PollFd::new(unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }, nix::poll::PollFlags::POLLIN)];
                nix::poll::poll(&mut poll, nix::poll::PollTimeout::from(10_000u16)).unwrap();
            }
            assert_eq!(unsafe { lcd_pending_notify(pending, fd, ptr::null_mut()) }, lcd_status::LCD_OK);
            let pipe = unsafe { lcd_pending_fd(pending) };
            let mut poll = [nix::poll::PollFd::new(unsafe { std::os::fd::BorrowedFd::borrow_raw(pipe) }, nix::poll::PollFlags::POLLIN)];
            nix::poll::poll(&mut poll, nix::poll::PollTimeout::from(10_000u16)).unwrap();
            let mut container = ptr::null_mut();
            let mut err: *mut lcd_error = ptr::null_mut();
            assert_eq!(unsafe { lcd_pending_finish_container(pending, &mut container, &mut err) }, lcd_status::LCD_NOT_FOUND);
            unsafe { lcd_error_free(err) };
            // The worker reports the failed notification after it signalled the call's pipe: keep
            // the pending call alive until the sink has re-entered it.
            let seen_by = Instant::now() + Duration::from_secs(10);
            while REENTRY_CALLS.load(Ordering::SeqCst) == before && Instant::now() < seen_by {
                std::thread::sleep(Duration::from_millis(5));
            }
            REENTRY_PENDING.store(ptr::null_mut(), Ordering::SeqCst);
            unsafe { lcd_pending_free(pending) };
        });
        // The worker thread still runs timers and RPCs.
        within(Duration::from_secs(20), "a later call with a deadline", move || {
            let shared_client = shared_client;
            let deadline = lcd_cancel_new(5_000);
            let status = unsafe { lcd_client_version(shared_client.0, deadline, ptr::null_mut(), ptr::null_mut(), ptr::null_mut()) };
            unsafe { lcd_cancel_free(deadline) };
            assert_eq!(status, lcd_status::LCD_OK);
        });
        assert!(REENTRY_CALLS.load(Ordering::SeqCst) > before, "notify_late={notify_late}: the sink saw the warning and re-entered");
    }
    unsafe { lcd_set_log_sink(None, ptr::null_mut(), 0) };
    unsafe { lcd_client_free(client) };
}

/// What one registration's callbacks may touch; `retired` once `lcd_set_log_sink` replaced it.
struct Registration {
    retired: AtomicBool,
    running: AtomicUsize,
    late_calls: AtomicUsize,
}

unsafe extern "C" fn counting_sink(
    user_data: *mut c_void,
    _level: lcd_log_level,
    _target: *const c_char,
    _message: *const c_char,
    _fields: *const lcd_log_field,
    _n_fields: usize,
) {
    let registration = unsafe { &*(user_data as *const Registration) };
    registration.running.fetch_add(1, Ordering::SeqCst);
    if registration.retired.load(Ordering::SeqCst) {
        registration.late_calls.fetch_add(1, Ordering::SeqCst);
    }
    // Long enough that an unset often lands while a callback runs.
    std::thread::sleep(Duration::from_micros(50));
    if registration.retired.load(Ordering::SeqCst) {
        registration.late_calls.fetch_add(1, Ordering::SeqCst);
    }
    registration.running.fetch_sub(1, Ordering::SeqCst);
}

/// Once `lcd_set_log_sink(NULL)` (or a new registration) returns, the old callback is not
/// running on any thread and never starts again, so the host may free its user data: checked
/// over many unsets while other threads make the library log.
#[test]
fn after_unsetting_the_log_sink_no_callback_runs_or_starts() {
    let _turn = SINK_TESTS.lock().unwrap_or_else(|p| p.into_inner());
    let client = Arc::new(client("sink-unset"));
    let stop = Arc::new(AtomicBool::new(false));
    let loaders: Vec<_> = (0..3)
        .map(|_| {
            let (client, stop) = (client.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    run(client.version()).unwrap();
                }
            })
        })
        .collect();
    let mut violations = Vec::new();
    let mut saw_calls = 0;
    // The sink that replaces the retired one on odd rounds; it lives until the end.
    let replacement = Box::new(Registration {
        retired: AtomicBool::new(false),
        running: AtomicUsize::new(0),
        late_calls: AtomicUsize::new(0),
    });
    let replacement_data = &*replacement as *const Registration as *mut c_void;
    for round in 0..1000 {
        let registration = Box::new(Registration {
            retired: AtomicBool::new(false),
            running: AtomicUsize::new(0),
            late_calls: AtomicUsize::new(0),
        });
        let user_data = &*registration as *const Registration as *mut c_void;
        unsafe { lcd_set_log_sink(Some(counting_sink), user_data, lcd_log_level::LCD_LOG_TRACE as i32) };
        std::thread::sleep(Duration::from_micros(200));
        // Alternate between unsetting and replacing: both retire the old callback.
        if round % 2 == 0 {
            unsafe { lcd_set_log_sink(None, ptr::null_mut(), 0) };
        } else {
            unsafe { lcd_set_log_sink(Some(counting_sink), replacement_data, lcd_log_level::LCD_LOG_TRACE as i32) };
        }
        let running = registration.running.load(Ordering::SeqCst);
        registration.retired.store(true, Ordering::SeqCst);
        if running != 0 {
            violations.push(format!("round {round}: {running} callback(s) still running after the unset returned"));
        }
        // Give a late starter time to show itself before the user data is freed.
        std::thread::sleep(Duration::from_micros(100));
        let late = registration.late_calls.load(Ordering::SeqCst);
        if late != 0 {
            violations.push(format!("round {round}: {late} callback observation(s) after the unset returned"));
        }
        saw_calls += usize::from(late == 0 && running == 0);
        drop(registration);
    }
    unsafe { lcd_set_log_sink(None, ptr::null_mut(), 0) };
    stop.store(true, Ordering::Relaxed);
    for loader in loaders {
        loader.join().unwrap();
    }
    assert!(saw_calls > 0);
    assert!(violations.is_empty(), "{} violations, first: {:?}", violations.len(), violations.iter().take(5).collect::<Vec<_>>());
}

static SELF_UNSET_CALLS: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn self_unsetting_sink(
    _user_data: *mut c_void,
    _level: lcd_log_level,
    _target: *const c_char,
    _message: *const c_char,
    _fields: *const lcd_log_field,
    _n_fields: usize,
) {
    SELF_UNSET_CALLS.fetch_add(1, Ordering::SeqCst);
    // From inside the callback: must return (not wait for itself) and stop later callbacks.
    unsafe { lcd_set_log_sink(None, ptr::null_mut(), 0) };
}

#[test]
fn a_callback_may_unset_the_sink_from_inside_itself() {
    let _turn = SINK_TESTS.lock().unwrap_or_else(|p| p.into_inner());
    let client = Arc::new(client("sink-self-unset"));
    for _ in 0..50 {
        let before = SELF_UNSET_CALLS.load(Ordering::SeqCst);
        unsafe { lcd_set_log_sink(Some(self_unsetting_sink), ptr::null_mut(), lcd_log_level::LCD_LOG_TRACE as i32) };
        let c = client.clone();
        within(Duration::from_secs(20), "calls while the callback unsets itself", move || {
            let threads: Vec<_> = (0..3)
                .map(|_| {
                    let c = c.clone();
                    std::thread::spawn(move || {
                        for _ in 0..5 {
                            run(c.version()).unwrap();
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
        });
        let after_unset = SELF_UNSET_CALLS.load(Ordering::SeqCst);
        assert!(after_unset > before, "the callback ran");
        // Several threads may have been inside the callback when the first unset it, but none
        // starts afterwards.
        run(client.version()).unwrap();
        assert_eq!(SELF_UNSET_CALLS.load(Ordering::SeqCst), after_unset, "no callback after the unset");
    }
}

/// The status and message of a failed call's error, freeing it.
fn error_of(status: lcd_status, err: *mut lcd_error) -> (lcd_status, String) {
    let message = unsafe { CStr::from_ptr(libcontainerd_capi::lcd_error_message(err)) }.to_string_lossy().into_owned();
    unsafe { lcd_error_free(err) };
    (status, message)
}

/// An invalid input of any size gives a short message: at most a bounded prefix of it is
/// quoted, with its length.
#[test]
fn errors_quote_at_most_a_bounded_part_of_a_huge_input() {
    let client = connect("huge-input");
    let huge_id = "x/".repeat(32 << 20); // 64 MiB
    let mut container = ptr::null_mut();
    let mut err: *mut lcd_error = ptr::null_mut();
    let status = unsafe {
        libcontainerd_capi::container::lcd_container_load(client, huge_id.as_ptr(), huge_id.len(), ptr::null(), &mut container, &mut err)
    };
    let (status, message) = error_of(status, err);
    assert_eq!(status, lcd_status::LCD_INVALID_ARGUMENT);
    assert!(message.len() < 300, "a {} byte message for a 64 MiB id: {}…", message.len(), &message[..300]);
    assert!(message.contains(&format!("({} bytes)", huge_id.len())), "{message}");
    unsafe { lcd_client_free(client) };

    let socket = testbed().socket.to_str().unwrap().to_owned();
    let huge_namespace = "n".repeat(1 << 20);
    let relative_state = "relative/".repeat(1 << 17);
    for (namespace, state, what) in [(huge_namespace.as_str(), "/tmp/lcd-huge", "namespace"), ("ns", relative_state.as_str(), "state directory")] {
        let mut client = ptr::null_mut();
        let mut err: *mut lcd_error = ptr::null_mut();
        let status = unsafe {
            lcd_client_connect(socket.as_ptr(), socket.len(), namespace.as_ptr(), namespace.len(), state.as_ptr(), state.len(), ptr::null(), &mut client, &mut err)
        };
        let (status, message) = error_of(status, err);
        assert_eq!(status, lcd_status::LCD_INVALID_ARGUMENT, "{what}: {message}");
        assert!(message.len() < 300, "{what}: a {} byte message", message.len());
    }
}
