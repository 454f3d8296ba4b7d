#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| irpack_fuzz::verify(data));
