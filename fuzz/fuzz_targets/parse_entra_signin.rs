//! Forces the `entra_signin` parser on arbitrary bytes, whether or not detection would pick it.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| irpack_fuzz::parse_forced("entra_signin", data));
