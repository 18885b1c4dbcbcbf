//! The OS-level thread name (what `top -H`, debuggers and panic messages show).

/// Sets the calling thread's OS-level name.
pub(super) fn set_os_name(name: &str) {
    #[cfg(target_os = "linux")]
    {
        let c = os_name(name);
        // SAFETY: pthread_self() is the calling thread; `c` is NUL-terminated and at most 16
        // bytes, the Linux limit.
        unsafe {
            libc::pthread_setname_np(libc::pthread_self(), c.as_ptr());
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = name;
}

/// Sets another (running, unjoined) thread's OS-level name.
pub(super) fn set_other_os_name(handle: &std::thread::JoinHandle<()>, name: &str) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::thread::JoinHandleExt;
        let c = os_name(name);
        // SAFETY: the caller holds the unjoined JoinHandle, so the pthread_t is valid; `c` is
        // NUL-terminated and at most 16 bytes.
        unsafe {
            libc::pthread_setname_np(handle.as_pthread_t(), c.as_ptr());
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (handle, name);
}

/// The name cut at an embedded NUL and truncated to 15 bytes without splitting a character.
#[cfg(target_os = "linux")]
fn os_name(name: &str) -> std::ffi::CString {
    let name = name.split('\0').next().unwrap_or("");
    let mut end = name.len().min(15);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    std::ffi::CString::new(&name[..end]).expect("NUL bytes were cut off")
}
