//! Log records reach a sink registered through the C ABI, with their fields, and stop when it
//! is removed. (Its own test binary: the sink is process-wide.)

#[path = "../../tests/common/mod.rs"]
mod common;

use std::ffi::{c_char, c_void, CStr};
use std::sync::Mutex;

use common::*;
use libcontainerd_capi::logging::{lcd_log_field, lcd_log_level, lcd_set_log_sink};

/// What the sink saw: level, message and fields of each record.
type Record = (lcd_log_level, String, Vec<(String, String)>);

static RECORDS: Mutex<Vec<Record>> = Mutex::new(Vec::new());

unsafe extern "C" fn collect(
    user_data: *mut c_void,
    level: lcd_log_level,
    _target: *const c_char,
    message: *const c_char,
    fields: *const lcd_log_field,
    n_fields: usize,
) {
    assert_eq!(user_data as usize, 0x5eed, "user data comes back as given");
    let text = |p: *const c_char| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
    let fields = unsafe { std::slice::from_raw_parts(fields, n_fields) };
    let fields = fields.iter().map(|f| (text(f.key), text(f.value))).collect();
    RECORDS.lock().unwrap().push((level, text(message), fields));
}

fn version_records() -> usize {
    RECORDS
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, message, fields)| {
            message == "containerd request"
                && fields.iter().any(|(k, v)| k == "method" && v.ends_with("Version/Version"))
        })
        .count()
}

#[test]
fn records_reach_the_registered_sink_with_their_fields_until_it_is_removed() {
    let client = client("logging");
    run(client.version()).unwrap();
    assert_eq!(version_records(), 0, "silent until a sink is registered");

    unsafe { lcd_set_log_sink(Some(collect), 0x5eed as *mut c_void, lcd_log_level::LCD_LOG_TRACE as i32) };
    run(client.version()).unwrap();
    assert_eq!(version_records(), 1);
    let records = RECORDS.lock().unwrap().clone();
    let (level, _, fields) = records.iter().find(|(_, m, _)| m == "containerd request").unwrap();
    assert_eq!(*level, lcd_log_level::LCD_LOG_TRACE);
    assert!(fields.iter().any(|(k, v)| k == "namespace" && v == client.namespace()), "{fields:?}");
    assert!(
        records.iter().all(|(_, m, _)| !m.contains("frame") && !m.contains("poll")),
        "dependencies' records (h2, tonic) are not forwarded"
    );

    unsafe { lcd_set_log_sink(Some(collect), 0x5eed as *mut c_void, lcd_log_level::LCD_LOG_WARN as i32) };
    run(client.version()).unwrap();
    assert_eq!(version_records(), 1, "trace records are filtered out at warn");

    unsafe { lcd_set_log_sink(None, std::ptr::null_mut(), lcd_log_level::LCD_LOG_TRACE as i32) };
    run(client.version()).unwrap();
    assert_eq!(version_records(), 1, "silent again");

    // The per-callsite decision is cached; registering again must reopen what was shut.
    unsafe { lcd_set_log_sink(Some(collect), 0x5eed as *mut c_void, lcd_log_level::LCD_LOG_TRACE as i32) };
    run(client.version()).unwrap();
    assert_eq!(version_records(), 2, "trace records flow again after a new registration");
    unsafe { lcd_set_log_sink(None, std::ptr::null_mut(), lcd_log_level::LCD_LOG_TRACE as i32) };
}
