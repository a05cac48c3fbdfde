//! Least recently used: one intrusive list per priority class, threaded
//! through a per-slot table of nodes. Every operation is O(1) plus a search
//! over the (few) priority classes in use.

use super::list::{Link, Linked, List};
use super::{EvictionPolicy, Facts, ensure_slot};

#[derive(Debug, Clone, Copy)]
struct Node {
    link: Link,
    priority: i32,
    linked: bool,
}

const UNLINKED: Node = Node {
    link: Link::NONE,
    priority: 0,
    linked: false,
};

impl Linked for Node {
    fn link(&self) -> Link {
        self.link
    }
    fn link_mut(&mut self) -> &mut Link {
        &mut self.link
    }
}

/// One priority class: the list's head is the most recently used entry.
#[derive(Debug, Clone, Copy)]
struct Class {
    priority: i32,
    list: List,
}

#[derive(Debug, Default)]
pub(crate) struct Lru {
    nodes: Vec<Node>,
    /// Non-empty classes, sorted by ascending priority. Usually one.
    classes: Vec<Class>,
    len: usize,
}

impl Lru {
    fn class_position(&self, priority: i32) -> Result<usize, usize> {
        self.classes.binary_search_by_key(&priority, |c| c.priority)
    }

    fn push_front(&mut self, slot: u32, priority: i32) {
        let at = self.class_position(priority).unwrap_or_else(|at| {
            self.classes.insert(
                at,
                Class {
                    priority,
                    list: List::default(),
                },
            );
            at
        });
        self.nodes[slot as usize] = Node {
            priority,
            linked: true,
            ..UNLINKED
        };
        self.classes[at].list.push_front(&mut self.nodes, slot);
        self.len += 1;
    }

    fn unlink(&mut self, slot: u32) {
        let Some(node) = self.nodes.get(slot as usize).copied() else {
            return;
        };
        if !node.linked {
            return;
        }
        let Ok(at) = self.class_position(node.priority) else {
            debug_assert!(false, "linked node without its class");
            return;
        };
        let class = &mut self.classes[at];
        class.list.unlink(&mut self.nodes, slot);
        if class.list.is_empty() {
            self.classes.remove(at);
        }
        self.nodes[slot as usize] = UNLINKED;
        self.len -= 1;
    }

    fn touch(&mut self, slot: u32, priority: i32) {
        self.unlink(slot);
        self.push_front(slot, priority);
    }
}

impl EvictionPolicy for Lru {
    fn insert(&mut self, slot: u32, facts: &Facts) {
        ensure_slot(&mut self.nodes, slot, UNLINKED);
        self.touch(slot, facts.priority);
    }

    fn update(&mut self, slot: u32, facts: &Facts) {
        self.insert(slot, facts);
    }

    fn access(&mut self, slot: u32, _facts: &Facts) {
        // A read never changes priority, so the node's own class is used;
        // skip the relink when the entry is already the most recent.
        let node = self.nodes[slot as usize];
        if node.link.prev != super::list::NIL {
            self.touch(slot, node.priority);
        }
    }

    fn remove(&mut self, slot: u32) {
        self.unlink(slot);
    }

    fn victim(&self, skip: Option<u32>) -> Option<u32> {
        self.classes.iter().find_map(|class| {
            let tail = class.list.back()?;
            if Some(tail) != skip {
                return Some(tail);
            }
            let before = self.nodes[tail as usize].link.prev;
            (before != super::list::NIL).then_some(before)
        })
    }

    fn min_priority(&self) -> Option<i32> {
        self.classes.first().map(|c| c.priority)
    }

    fn clear(&mut self) {
        self.nodes.clear();
        self.classes.clear();
        self.len = 0;
    }

    fn len(&self) -> usize {
        self.len
    }

    fn validate(&self, resident: &[u32]) -> Result<(), String> {
        for pair in self.classes.windows(2) {
            if pair[0].priority >= pair[1].priority {
                return Err("lru: classes not in ascending priority order".into());
            }
        }
        let mut seen = 0usize;
        for class in &self.classes {
            if class.list.is_empty() {
                return Err(format!("lru: empty class {} kept", class.priority));
            }
            let slots = class
                .list
                .walk(&self.nodes)
                .map_err(|e| format!("lru: {e}"))?;
            if let Some(slot) = slots.iter().find(|&&s| {
                let n = self.nodes[s as usize];
                !n.linked || n.priority != class.priority
            }) {
                return Err(format!("lru: broken node at slot {slot}"));
            }
            seen += slots.len();
        }
        if seen != self.len || self.len != resident.len() {
            return Err(format!(
                "lru: {seen} linked, len {}, {} resident",
                self.len,
                resident.len()
            ));
        }
        match resident
            .iter()
            .find(|&&s| !self.nodes.get(s as usize).is_some_and(|n| n.linked))
        {
            Some(slot) => Err(format!("lru: resident slot {slot} not linked")),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(priority: i32) -> Facts {
        Facts {
            priority,
            weight: 1,
            cost: 0,
            deadline: None,
            hash: 0,
        }
    }

    #[test]
    fn evicts_least_recent_of_the_lowest_class() {
        let mut lru = Lru::default();
        for slot in 0..4 {
            lru.insert(slot, &facts(if slot == 0 { 5 } else { 0 }));
        }
        lru.access(1, &facts(0));
        assert_eq!(lru.victim(None), Some(2));
        assert_eq!(lru.victim(Some(2)), Some(3));
        lru.remove(2);
        lru.remove(3);
        assert_eq!(
            lru.victim(Some(1)),
            Some(0),
            "class 0 holds only the skipped slot"
        );
        assert_eq!(lru.min_priority(), Some(0));
        lru.remove(1);
        assert_eq!(lru.min_priority(), Some(5));
        lru.validate(&[0]).expect("consistent");
    }
}
