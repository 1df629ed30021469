//! The interpreter's cfgs (`Py_3_14`, `Py_GIL_DISABLED`, ...) for code that reads CPython structs
//! whose layout or meaning differs between versions.
fn main() {
    pyo3_build_config::use_pyo3_cfgs();
}
