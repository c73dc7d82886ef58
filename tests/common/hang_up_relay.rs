//! A relay that loses a call's answer with the connection, for the outage tests.

use std::sync::Arc;
use std::time::Duration;

use super::testbed;

/// A relay between the library and the test bed's containerd, on a socket of its own: it passes
/// bytes both ways until armed; armed, it hangs up on the library instead of passing on the next
/// answer to a call (containerd carried the call out), its own connection to containerd staying
/// open for 2 s more. As when containerd is killed after it made something and
/// before its answer went out (tests/dockerd_faults.sh met it: a containerd container record
/// that neither dockerd nor the library knew).
pub struct HangUpRelay {
    /// The socket the library connects to.
    pub path: std::path::PathBuf,
    armed: Arc<std::sync::atomic::AtomicBool>,
    /// New connections are closed at once (containerd away) while set.
    blocked: Arc<std::sync::atomic::AtomicBool>,
}

impl HangUpRelay {
    pub fn start(name: &str) -> HangUpRelay {
        use std::io::{Read, Write};
        use std::os::unix::net::{UnixListener, UnixStream};
        use std::sync::atomic::Ordering;
        let path = std::env::temp_dir().join(format!("lcd-relay-{name}-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let armed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let blocked = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let target = testbed().socket.clone();
        let (trigger, refuse) = (armed.clone(), blocked.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(client) = conn else { return };
                if refuse.load(Ordering::SeqCst) {
                    continue;
                }
                let Ok(server) = UnixStream::connect(&target) else { continue };
                let (mut from_client, mut to_server) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from_client, &mut to_server);
                    // containerd must not see the hang-up before it has carried the call out.
                    std::thread::sleep(Duration::from_secs(2));
                    let _ = to_server.shutdown(std::net::Shutdown::Both);
                });
                let (mut from_server, mut to_client, trigger) = (server, client, trigger.clone());
                // containerd's side frame by frame (HTTP/2: a 9-byte header with a 24-bit
                // length, the type, flags and stream id): armed, the first HEADERS frame of a
                // stream, a call's answer, is not passed on and the library is hung up on.
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16384];
                    let mut pending = Vec::new();
                    loop {
                        let n = match from_server.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        pending.extend_from_slice(&buf[..n]);
                        while pending.len() >= 9 {
                            let len = (usize::from(pending[0]) << 16) | (usize::from(pending[1]) << 8) | usize::from(pending[2]);
                            if pending.len() < 9 + len {
                                break;
                            }
                            let stream = u32::from_be_bytes([pending[5], pending[6], pending[7], pending[8]]) & 0x7fff_ffff;
                            if pending[3] == 1 && stream != 0 && trigger.swap(false, Ordering::SeqCst) {
                                let _ = to_client.shutdown(std::net::Shutdown::Both);
                                let _ = from_server.set_read_timeout(Some(Duration::from_secs(2)));
                                while matches!(from_server.read(&mut buf), Ok(n) if n > 0) {}
                                return;
                            }
                            if to_client.write_all(&pending[..9 + len]).is_err() {
                                return;
                            }
                            pending.drain(..9 + len);
                        }
                    }
                });
            }
        });
        HangUpRelay { path, armed, blocked }
    }

    pub fn arm(&self) {
        self.armed.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn block(&self, blocked: bool) {
        self.blocked.store(blocked, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for HangUpRelay {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
