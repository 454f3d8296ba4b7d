//! A growable vector that is one pointer when held and whose block can be shared: a
//! `ThinVec` with a reference count in its header. An [`Extra`](crate::event::Extra) is
//! built and changed in place while its record is parsed (the block is then the event's
//! own, so nothing is copied and no second block is allocated), and held events whose
//! trimmed maps are equal share one block (see `Interner`); changing a shared one copies it
//! first, so the others keep what they had.

use std::alloc::{self, Layout};
use std::marker::PhantomData;
use std::ptr::{self, NonNull};
use std::sync::atomic::{self, AtomicUsize, Ordering};

/// Before the elements. `cap == 0` is the one static empty block, never counted or freed.
#[repr(C)]
struct Header {
    rc: AtomicUsize,
    len: u32,
    cap: u32,
}

/// Aligned for any element this module allows (alignment up to 8).
static EMPTY: Header = Header {
    rc: AtomicUsize::new(1),
    len: 0,
    cap: 0,
};

/// One pointer to a counted block of `T`s (see the module's comment).
pub struct RcVec<T> {
    ptr: NonNull<Header>,
    _owns: PhantomData<T>,
}

// Like `Arc<[T]>`: the count is atomic, and a block is changed only by its sole holder.
unsafe impl<T: Send + Sync> Send for RcVec<T> {}
unsafe impl<T: Send + Sync> Sync for RcVec<T> {}

impl<T> RcVec<T> {
    pub fn new() -> Self {
        const {
            assert!(
                std::mem::align_of::<T>() <= std::mem::align_of::<Header>()
                    && std::mem::size_of::<T>() > 0,
                "RcVec holds sized elements aligned to at most 8"
            )
        };
        RcVec {
            ptr: NonNull::from(&EMPTY),
            _owns: PhantomData,
        }
    }

    pub fn with_capacity(cap: usize) -> Self {
        let mut v = Self::new();
        v.reserve(cap);
        v
    }

    fn layout(cap: usize) -> Layout {
        let (l, off) = Layout::new::<Header>()
            .extend(Layout::array::<T>(cap).expect("capacity overflow"))
            .expect("capacity overflow");
        debug_assert_eq!(off, std::mem::size_of::<Header>());
        l.pad_to_align()
    }

    fn header(&self) -> &Header {
        // SAFETY: `ptr` is the static empty block or a live block this holds a count of.
        unsafe { self.ptr.as_ref() }
    }

    fn data(&self) -> *mut T {
        // SAFETY: the elements start right after the header (see `layout`); for the empty
        // block the pointer is aligned and only ever used for zero elements.
        unsafe { self.ptr.as_ptr().add(1).cast::<T>() }
    }

    pub fn len(&self) -> usize {
        self.header().len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn cap(&self) -> usize {
        self.header().cap as usize
    }

    pub fn as_slice(&self) -> &[T] {
        if self.is_empty() {
            return &[];
        }
        // SAFETY: the first `len` elements are initialized.
        unsafe { std::slice::from_raw_parts(self.data(), self.len()) }
    }

    /// Whether `a` and `b` are the same block.
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        a.ptr == b.ptr
    }

    /// Whether this is the only holder of its block (the empty one counts as unshared:
    /// changing it allocates anyway).
    fn unique(&self) -> bool {
        // Acquire: pairs with other holders' release when they let go, so their reads of the
        // elements happen before this one's writes.
        self.cap() == 0 || self.header().rc.load(Ordering::Acquire) == 1
    }

    /// Elements to change in place: the block copied first when it is shared.
    pub fn make_mut(&mut self) -> &mut [T]
    where
        T: Clone,
    {
        self.own();
        if self.is_empty() {
            return &mut [];
        }
        // SAFETY: sole holder; the first `len` elements are initialized.
        unsafe { std::slice::from_raw_parts_mut(self.data(), self.len()) }
    }

    fn own(&mut self)
    where
        T: Clone,
    {
        if !self.unique() {
            let mut copy = Self::with_capacity(self.len());
            for x in self.as_slice() {
                // SAFETY: `copy` is its block's sole holder with room for every element.
                unsafe { copy.push_unchecked(x.clone()) };
            }
            *self = copy;
        }
    }

    /// Room for `additional` more; only for a block's sole holder.
    fn reserve(&mut self, additional: usize) {
        let (len, cap) = (self.len(), self.cap());
        let need = len.checked_add(additional).expect("capacity overflow");
        if need <= cap {
            return;
        }
        let new_cap = need.max(cap.saturating_mul(2)).max(4);
        assert!(new_cap <= u32::MAX as usize, "capacity overflow");
        let new = Self::layout(new_cap);
        // SAFETY: a non-zero size (the header); an existing block is reallocated only by its
        // sole holder, with the layout it was allocated with.
        let p = unsafe {
            if cap == 0 {
                alloc::alloc(new)
            } else {
                alloc::realloc(self.ptr.as_ptr().cast(), Self::layout(cap), new.size())
            }
        };
        let Some(p) = NonNull::new(p.cast::<Header>()) else {
            alloc::handle_alloc_error(new)
        };
        // SAFETY: `p` is a block of `new`'s size; a fresh one gets its header written whole.
        unsafe {
            if cap == 0 {
                p.as_ptr().write(Header {
                    rc: AtomicUsize::new(1),
                    len: 0,
                    cap: 0,
                });
            }
            (*p.as_ptr()).cap = new_cap as u32;
        }
        self.ptr = p;
    }

    /// # Safety
    /// Sole holder of the block, with room for one more.
    unsafe fn push_unchecked(&mut self, x: T) {
        let len = self.len();
        debug_assert!(len < self.cap());
        unsafe {
            self.data().add(len).write(x);
            (*self.ptr.as_ptr()).len = len as u32 + 1;
        }
    }

    pub fn push(&mut self, x: T)
    where
        T: Clone,
    {
        self.own();
        self.reserve(1);
        // SAFETY: sole holder, room reserved.
        unsafe { self.push_unchecked(x) }
    }

    /// Put `x` at `i`, the later elements moving up one. Panics when `i > len`.
    pub fn insert(&mut self, i: usize, x: T)
    where
        T: Clone,
    {
        let len = self.len();
        assert!(i <= len, "insertion index out of bounds");
        self.own();
        self.reserve(1);
        // SAFETY: sole holder, room for one more, `i <= len`.
        unsafe {
            let at = self.data().add(i);
            ptr::copy(at, at.add(1), len - i);
            at.write(x);
            (*self.ptr.as_ptr()).len = len as u32 + 1;
        }
    }

    /// Take out the element at `i`, the later ones moving down one. Panics when `i >= len`.
    pub fn remove(&mut self, i: usize) -> T
    where
        T: Clone,
    {
        let len = self.len();
        assert!(i < len, "removal index out of bounds");
        self.own();
        // SAFETY: sole holder, `i < len`; the length is lowered before anything can panic.
        unsafe {
            let at = self.data().add(i);
            let x = at.read();
            ptr::copy(at.add(1), at, len - i - 1);
            (*self.ptr.as_ptr()).len = len as u32 - 1;
            x
        }
    }

    /// Keep the first `n` elements.
    pub fn truncate(&mut self, n: usize)
    where
        T: Clone,
    {
        let len = self.len();
        if n >= len {
            return;
        }
        self.own();
        // SAFETY: sole holder; the length is lowered first, so a panicking drop leaks the
        // rest rather than dropping anything twice.
        unsafe {
            (*self.ptr.as_ptr()).len = n as u32;
            ptr::drop_in_place(ptr::slice_from_raw_parts_mut(self.data().add(n), len - n));
        }
    }

    /// Keep the elements `keep` accepts, in order.
    pub fn retain_mut(&mut self, mut keep: impl FnMut(&mut T) -> bool)
    where
        T: Clone,
    {
        let s = self.make_mut();
        let mut w = 0;
        for r in 0..s.len() {
            if keep(&mut s[r]) {
                s.swap(r, w);
                w += 1;
            }
        }
        self.truncate(w);
    }

    /// Drop each element `same(later, kept)` finds equal to the one kept before it.
    pub fn dedup_by(&mut self, mut same: impl FnMut(&mut T, &mut T) -> bool)
    where
        T: Clone,
    {
        let s = self.make_mut();
        if s.is_empty() {
            return;
        }
        let mut w = 1;
        for r in 1..s.len() {
            let (kept, rest) = s.split_at_mut(r);
            if !same(&mut rest[0], &mut kept[w - 1]) {
                s.swap(r, w);
                w += 1;
            }
        }
        self.truncate(w);
    }

    /// Give back the room past the last element (all of it when there is none).
    pub fn shrink_to_fit(&mut self)
    where
        T: Clone,
    {
        let (len, cap) = (self.len(), self.cap());
        if len == cap || !self.unique() {
            return;
        }
        if len == 0 {
            *self = Self::new();
            return;
        }
        let new = Self::layout(len);
        // SAFETY: sole holder; shrinking the block it was allocated with.
        let p = unsafe { alloc::realloc(self.ptr.as_ptr().cast(), Self::layout(cap), new.size()) };
        let Some(p) = NonNull::new(p.cast::<Header>()) else {
            alloc::handle_alloc_error(new)
        };
        // SAFETY: the reallocated block keeps its header.
        unsafe { (*p.as_ptr()).cap = len as u32 };
        self.ptr = p;
    }
}

impl<T> Default for RcVec<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Clone for RcVec<T> {
    /// Another holder of the same block: no copy.
    fn clone(&self) -> Self {
        if self.cap() != 0 {
            // Relaxed: a new holder is made from an existing one, as `Arc::clone` does.
            let old = self.header().rc.fetch_add(1, Ordering::Relaxed);
            if old > isize::MAX as usize {
                std::process::abort();
            }
        }
        RcVec {
            ptr: self.ptr,
            _owns: PhantomData,
        }
    }
}

impl<T> Drop for RcVec<T> {
    fn drop(&mut self) {
        let cap = self.cap();
        if cap == 0 {
            return;
        }
        // A sole holder (the usual case: a parsed record's map) frees without a locked
        // instruction; otherwise as `Arc` does.
        if self.header().rc.load(Ordering::Acquire) != 1 {
            if self.header().rc.fetch_sub(1, Ordering::Release) != 1 {
                return;
            }
            atomic::fence(Ordering::Acquire);
        }
        // SAFETY: the last holder: drop the elements, then free the block with its layout.
        unsafe {
            ptr::drop_in_place(ptr::slice_from_raw_parts_mut(self.data(), self.len()));
            alloc::dealloc(self.ptr.as_ptr().cast(), Self::layout(cap));
        }
    }
}

impl<T> std::ops::Deref for RcVec<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.as_slice()
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for RcVec<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_slice().fmt(f)
    }
}

impl<T: PartialEq> PartialEq for RcVec<T> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: Clone> FromIterator<T> for RcVec<T> {
    fn from_iter<I: IntoIterator<Item = T>>(it: I) -> Self {
        let it = it.into_iter();
        let mut v = Self::with_capacity(it.size_hint().0);
        v.extend(it);
        v
    }
}

impl<T: Clone> Extend<T> for RcVec<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, it: I) {
        let it = it.into_iter();
        self.own();
        self.reserve(it.size_hint().0);
        for x in it {
            self.reserve(1);
            // SAFETY: sole holder, room reserved.
            unsafe { self.push_unchecked(x) }
        }
    }
}

/// The elements by value: moved out of a block held alone, cloned from a shared one.
pub struct IntoIter<T> {
    v: RcVec<T>,
    next: usize,
    unique: bool,
}

impl<T: Clone> Iterator for IntoIter<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        let len = self.v.len();
        if self.next >= len {
            return None;
        }
        let i = self.next;
        self.next += 1;
        if self.unique {
            // SAFETY: sole holder; each element is read once, and `Drop` skips those read.
            Some(unsafe { self.v.data().add(i).read() })
        } else {
            Some(self.v.as_slice()[i].clone())
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.v.len() - self.next;
        (n, Some(n))
    }
}

impl<T> Drop for IntoIter<T> {
    fn drop(&mut self) {
        if self.unique && self.v.cap() != 0 {
            let len = self.v.len();
            // SAFETY: sole holder; the elements before `next` were moved out, so the block
            // is left holding none and then the rest are dropped.
            unsafe {
                (*self.v.ptr.as_ptr()).len = 0;
                let rest = self.v.data().add(self.next);
                ptr::drop_in_place(ptr::slice_from_raw_parts_mut(rest, len - self.next));
            }
        }
    }
}

impl<T: Clone> IntoIterator for RcVec<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> IntoIter<T> {
        let unique = self.unique();
        IntoIter {
            v: self,
            next: 0,
            unique,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RcVec;
    use std::sync::Arc;

    #[test]
    fn behaves_as_a_vector() {
        let mut v: RcVec<String> = RcVec::new();
        assert!(v.is_empty());
        for i in 0..10 {
            v.push(i.to_string());
        }
        v.insert(0, "first".into());
        v.insert(11, "last".into());
        assert_eq!(v.len(), 12);
        assert_eq!(v.remove(1), "0");
        v.retain_mut(|s| s != "5");
        assert_eq!(
            v.as_slice(),
            ["first", "1", "2", "3", "4", "6", "7", "8", "9", "last"]
        );
        v.truncate(3);
        v.shrink_to_fit();
        assert_eq!(v.as_slice(), ["first", "1", "2"]);
        let mut d: RcVec<(u8, u8)> = [(1, 1), (1, 2), (2, 3), (2, 4), (3, 5)]
            .into_iter()
            .collect();
        d.dedup_by(|later, kept| later.0 == kept.0);
        assert_eq!(d.as_slice(), [(1, 1), (2, 3), (3, 5)]);
        let all: Vec<String> = v.into_iter().collect();
        assert_eq!(all, ["first", "1", "2"]);
        let mut e: RcVec<String> = RcVec::new();
        e.shrink_to_fit();
        e.truncate(0);
        e.retain_mut(|_| false);
        assert_eq!(e.into_iter().count(), 0);
    }

    #[test]
    fn a_shared_block_is_copied_before_a_change() {
        let token = Arc::new(());
        let mut a: RcVec<Arc<()>> = (0..3).map(|_| token.clone()).collect();
        let b = a.clone();
        assert!(RcVec::ptr_eq(&a, &b));
        assert_eq!(Arc::strong_count(&token), 4);
        a.push(token.clone());
        assert!(!RcVec::ptr_eq(&a, &b));
        assert_eq!((a.len(), b.len()), (4, 3));
        assert_eq!(Arc::strong_count(&token), 8);
        let c = b.clone();
        // Moved out of a shared block: cloned, the block left to the other holder.
        assert_eq!(b.into_iter().count(), 3);
        assert_eq!(c.len(), 3);
        // Partly iterated alone: the rest still dropped once.
        let mut it = c.into_iter();
        it.next();
        drop(it);
        drop(a);
        assert_eq!(Arc::strong_count(&token), 1);
    }

    #[test]
    fn shared_across_threads() {
        let v: RcVec<String> = (0..100).map(|i| i.to_string()).collect();
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let v = v.clone();
                std::thread::spawn(move || {
                    let mut w = v.clone();
                    w.push("x".into());
                    (v.len(), w.len())
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), (100, 101));
        }
        assert_eq!(v.len(), 100);
    }
}
