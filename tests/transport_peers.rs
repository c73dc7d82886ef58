//! The transport's reaction to a peer that is not (or no longer) a working containerd: connect
//! confirms it reached an HTTP/2 server within a bounded time, and a connection whose peer
//! stops answering fails its calls as unavailable (keepalive PING) instead of leaving them
//! waiting forever. The fake peers stand for what is not containerd; the last test stops the
//! test bed's real containerd. (Its own test binary: that test stops containerd for everyone.)

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use libcontainerd::transport::{KEEPALIVE_INTERVAL, KEEPALIVE_TIMEOUT};
use libcontainerd::{Client, ErrorKind};

/// A listening socket in a fresh directory, served by `serve` on its own thread.
fn fake_peer(name: &str, serve: impl FnOnce(UnixListener) + Send + 'static) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lcd-fake-peer-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("containerd.sock");
    let listener = UnixListener::bind(&path).unwrap();
    std::thread::spawn(move || serve(listener));
    path
}

/// Connects without a cancel token, bounded by the test: the library must give up by itself.
fn connect_unbounded(socket: PathBuf, test: &str) -> (libcontainerd::Result<Client>, Duration) {
    let ns = namespace(test);
    let state = state_dir(&ns);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let started = Instant::now();
        let result = libcontainerd::runtime::block_on(None, Client::connect(&socket, &ns, &state));
        let _ = tx.send((result, started.elapsed()));
    });
    rx.recv_timeout(Duration::from_secs(60)).expect("connect without a cancel token still waits after 60 s")
}

fn assert_refused(result: libcontainerd::Result<Client>, took: Duration, peer: &str) {
    let error = result.err().unwrap_or_else(|| panic!("connect to a {peer} peer succeeded"));
    assert_eq!(error.kind(), ErrorKind::Unavailable, "{peer}: {error}");
    assert!(took < Duration::from_secs(15), "{peer}: gave up only after {took:?}");
}

#[test]
fn connect_to_a_peer_that_accepts_and_stays_silent_fails_unavailable() {
    let socket = fake_peer("silent", |listener| {
        let held: Vec<_> = listener.incoming().collect();
        drop(held);
    });
    let (result, took) = connect_unbounded(socket, "silent-peer");
    assert_refused(result, took, "silent");
}

#[test]
fn connect_to_an_http1_server_fails_unavailable() {
    let socket = fake_peer("http1", |listener| {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let _ = stream.read(&mut [0u8; 1024]);
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n");
            std::mem::forget(stream); // keeps it open, as a keep-alive HTTP/1.1 server would
        }
    });
    let (result, took) = connect_unbounded(socket, "http1-peer");
    assert_refused(result, took, "HTTP/1.1");
}

#[test]
fn connect_to_a_peer_that_answers_garbage_fails_unavailable() {
    let socket = fake_peer("garbage", |listener| {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let _ = stream.write_all(&[0x17u8; 512]);
            std::mem::forget(stream);
        }
    });
    let (result, took) = connect_unbounded(socket, "garbage-peer");
    assert_refused(result, took, "garbage");
}

/// Stops or resumes the test bed's containerd (its pid file sits next to its socket).
fn signal_containerd(signal: nix::sys::signal::Signal) {
    let pidfile = testbed().socket.parent().unwrap().join("containerd.pid");
    let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal).unwrap();
}

/// Resumes containerd even when the test fails.
struct ResumeContainerd;
impl Drop for ResumeContainerd {
    fn drop(&mut self) {
        signal_containerd(nix::sys::signal::Signal::SIGCONT);
    }
}

#[test]
fn a_call_to_a_stopped_containerd_fails_unavailable_and_a_later_call_works() {
    let client = client("stopped-containerd");
    run(client.version()).unwrap();
    let resume = ResumeContainerd;
    signal_containerd(nix::sys::signal::Signal::SIGSTOP);
    let (tx, rx) = mpsc::channel();
    let calling = client.clone();
    std::thread::spawn(move || {
        let started = Instant::now();
        // No cancel token: only the keepalive can end this call.
        let result = libcontainerd::runtime::block_on(None, calling.version());
        let _ = tx.send((result, started.elapsed()));
    });
    let limit = KEEPALIVE_INTERVAL + KEEPALIVE_TIMEOUT + Duration::from_secs(15);
    let received = rx.recv_timeout(limit);
    drop(resume);
    let (result, took) = received.unwrap_or_else(|_| panic!("a call to a stopped containerd still waits after {limit:?}"));
    let error = result.expect_err("version answered by a stopped containerd");
    assert_eq!(error.kind(), ErrorKind::Unavailable, "{error}");
    assert!(took <= KEEPALIVE_INTERVAL + KEEPALIVE_TIMEOUT + Duration::from_secs(2), "{took:?}");
    // Resumed: the client dials again and works.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match run(client.version()) {
            Ok(_) => break,
            Err(e) if Instant::now() < deadline => eprintln!("not yet back: {e}"),
            Err(e) => panic!("containerd resumed but calls still fail: {e}"),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
