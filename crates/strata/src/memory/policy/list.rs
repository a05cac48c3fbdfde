//! Intrusive doubly linked lists threaded through a per-slot table, shared
//! by the list-based policies. A node type exposes its links through
//! [`Linked`]; a [`List`] is just its two ends and length, so one table can
//! hold many lists (one per segment and priority class).

pub(crate) const NIL: u32 = u32::MAX;

/// The links of one node: `prev` towards the head (most recent end),
/// `next` towards the tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Link {
    pub(crate) prev: u32,
    pub(crate) next: u32,
}

impl Link {
    pub(crate) const NONE: Link = Link {
        prev: NIL,
        next: NIL,
    };
}

/// A node that can sit in a [`List`].
pub(crate) trait Linked {
    fn link(&self) -> Link;
    fn link_mut(&mut self) -> &mut Link;
}

/// One list: head is the most recently pushed end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct List {
    pub(crate) head: u32,
    pub(crate) tail: u32,
    pub(crate) len: usize,
}

impl Default for List {
    fn default() -> Self {
        Self {
            head: NIL,
            tail: NIL,
            len: 0,
        }
    }
}

impl List {
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The tail, if any (the oldest end).
    pub(crate) fn back(&self) -> Option<u32> {
        (self.tail != NIL).then_some(self.tail)
    }

    /// Pushes `slot` at the head. The node must not be in any list.
    pub(crate) fn push_front<T: Linked>(&mut self, nodes: &mut [T], slot: u32) {
        let old = self.head;
        *nodes[slot as usize].link_mut() = Link {
            prev: NIL,
            next: old,
        };
        if old == NIL {
            self.tail = slot;
        } else {
            nodes[old as usize].link_mut().prev = slot;
        }
        self.head = slot;
        self.len += 1;
    }

    /// Removes `slot`, which must be in this list.
    pub(crate) fn unlink<T: Linked>(&mut self, nodes: &mut [T], slot: u32) {
        let Link { prev, next } = nodes[slot as usize].link();
        if prev == NIL {
            self.head = next;
        } else {
            nodes[prev as usize].link_mut().next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            nodes[next as usize].link_mut().prev = prev;
        }
        *nodes[slot as usize].link_mut() = Link::NONE;
        self.len -= 1;
    }

    /// The slots from head to tail, checking the back links on the way.
    pub(crate) fn walk<T: Linked>(&self, nodes: &[T]) -> Result<Vec<u32>, String> {
        let (mut at, mut prev, mut out) = (self.head, NIL, Vec::with_capacity(self.len));
        while at != NIL {
            let node = nodes
                .get(at as usize)
                .ok_or_else(|| format!("link to missing slot {at}"))?;
            if node.link().prev != prev {
                return Err(format!(
                    "slot {at}: back link {} != {prev}",
                    node.link().prev
                ));
            }
            out.push(at);
            if out.len() > self.len {
                return Err("list longer than its length".into());
            }
            prev = at;
            at = node.link().next;
        }
        if out.len() != self.len || prev != self.tail {
            return Err(format!(
                "list length {} or tail wrong ({} walked)",
                self.len,
                out.len()
            ));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy)]
    struct N(Link);
    impl Linked for N {
        fn link(&self) -> Link {
            self.0
        }
        fn link_mut(&mut self) -> &mut Link {
            &mut self.0
        }
    }

    #[test]
    fn push_unlink_and_walk() {
        let mut nodes = vec![N(Link::NONE); 4];
        let mut list = List::default();
        list.push_front(&mut nodes, 2);
        list.push_front(&mut nodes, 0);
        list.push_front(&mut nodes, 1);
        assert_eq!(list.walk(&nodes).expect("consistent"), [1, 0, 2]);
        list.unlink(&mut nodes, 0);
        assert_eq!(list.walk(&nodes).expect("consistent"), [1, 2]);
        assert_eq!(list.back(), Some(2));
        list.unlink(&mut nodes, 1);
        list.unlink(&mut nodes, 2);
        assert!(list.is_empty() && list.back().is_none());
    }
}
