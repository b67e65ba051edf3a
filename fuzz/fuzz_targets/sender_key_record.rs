#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| parley_crypto::fuzz_targets::sender_key_record(data));
