//! Instance attributes remembered per `__dict__` version (CPython up to 3.11, with the GIL).
//!
//! An operation reads up to nine attributes from the instance's `__dict__`, about 12 ns a lookup:
//! a third of an uncontended set. Up to CPython 3.11 a dict's version (PEP 509) is unique in the
//! process to its current contents, so while the instance dict has the version it had when the
//! attributes were looked up, looking them up again finds the same objects, which the dict itself
//! keeps alive. Each thread remembers the lookups of its last few instance dicts as borrowed
//! pointers, and uses one only after comparing the dict's version again, right before the use.
//! Nothing is remembered where `dict_version` is None (3.12 on, free-threaded builds).

use std::cell::Cell;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use super::dict_version;

/// The attributes remembered, by position.
pub(super) const NAMES: [&str; 9] = [
    "cache_dict",
    "ttl_dict",
    "expiration_heap",
    "_write_lock",
    "_increment_lock",
    "max_size_in_memory",
    "max_size_per_item",
    "_clock",
    "default_ttl",
];

pub(super) const CACHE_DICT: usize = 0;
pub(super) const TTL_DICT: usize = 1;

/// What the lookups of `NAMES` found in one instance dict at one version (0: absent).
#[derive(Clone, Copy)]
pub(super) struct Remembered {
    dict: usize,
    version: u64,
    /// The instance's type when remembered: the checks made before remembering depend on it.
    class: usize,
    values: [usize; NAMES.len()],
}

/// Instance dicts remembered per thread, placed by address (a later dict replaces an earlier one).
const SLOTS: usize = 8;

thread_local! {
    static REMEMBERED: [Cell<Option<Remembered>>; SLOTS] = const { [const { Cell::new(None) }; SLOTS] };
}

fn slot_of(dict: usize) -> usize {
    // Dicts are 16-byte aligned; a multiplicative hash spreads the remaining bits.
    ((dict >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 61) & (SLOTS - 1)
}

/// The lookups remembered for `attributes` of an instance of `class`, if its version is unchanged.
pub(super) fn recall(attributes: &Bound<'_, PyDict>, class: usize) -> Option<Remembered> {
    let version = dict_version(attributes)?;
    let dict = attributes.as_ptr() as usize;
    let remembered = REMEMBERED
        .try_with(|slots| slots[slot_of(dict)].get())
        .ok()??;
    (remembered.dict == dict && remembered.version == version && remembered.class == class)
        .then_some(remembered)
}

/// Looks up `names` (the interned `NAMES`) in `attributes` and remembers what was found, unless
/// the dict changed during the lookups. Call only once the instance's checks have passed.
pub(super) fn remember(
    attributes: &Bound<'_, PyDict>,
    class: usize,
    names: &[Py<PyString>; NAMES.len()],
) -> PyResult<Option<Remembered>> {
    let Some(version) = dict_version(attributes) else {
        return Ok(None);
    };
    let py = attributes.py();
    let mut values = [0usize; NAMES.len()];
    for (value, name) in values.iter_mut().zip(names) {
        // The found objects stay referenced by the dict; only their addresses are kept.
        *value = attributes
            .get_item(name.bind(py))?
            .map_or(0, |found| found.as_ptr() as usize);
    }
    if dict_version(attributes) != Some(version) {
        return Ok(None); // a lookup ran Python code that changed the dict
    }
    let remembered = Remembered {
        dict: attributes.as_ptr() as usize,
        version,
        class,
        values,
    };
    let dict = remembered.dict;
    // Fails only while the thread is being torn down: nothing is remembered then.
    let _ = REMEMBERED.try_with(|slots| slots[slot_of(dict)].set(Some(remembered)));
    Ok(Some(remembered))
}

impl Remembered {
    /// `attributes[names[index]]` (None: absent) if `attributes` is still at the remembered
    /// version; otherwise nothing is known (the outer None).
    pub(super) fn value<'py>(
        &self,
        attributes: &Bound<'py, PyDict>,
        index: usize,
    ) -> Option<Option<Bound<'py, PyAny>>> {
        if attributes.as_ptr() as usize != self.dict
            || dict_version(attributes) != Some(self.version)
        {
            return None;
        }
        let pointer = self.values[index];
        if pointer == 0 {
            return Some(None);
        }
        // SAFETY: the dict is live (`attributes`) and unchanged since `pointer` was found in it,
        // so it still holds a reference to that object.
        Some(Some(unsafe {
            Bound::from_borrowed_ptr(attributes.py(), pointer as *mut pyo3::ffi::PyObject)
        }))
    }
}

/// The position of `name` in `names` (compared by identity: both interned).
pub(super) fn position(
    names: &[Py<PyString>; NAMES.len()],
    name: &Bound<'_, PyString>,
) -> Option<usize> {
    names
        .iter()
        .position(|known| known.as_ptr() == name.as_ptr())
}
