//! Dependency order: one helper for every ordering of things that wait for other things
//! (pass-throughs after the flow they pass on, milestones after the milestones their conditions
//! read), and for the loops that make an order impossible.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use petgraph::algo::kosaraju_scc;
use petgraph::graph::{DiGraph, NodeIndex};

/// Items `0..n` ordered so that each comes after every item it depends on, and otherwise in
/// their own order (so an order that is already valid is kept); or, when that is impossible, one
/// loop of dependencies `[a, b, .., a]` (a depends on b, .., which depends on a), starting from
/// the loop's smallest item. Linear in items and dependencies, up to a log factor.
pub fn dependency_order(
    n: usize,
    depends_on: impl Fn(usize) -> Vec<usize>,
) -> Result<Vec<usize>, Vec<usize>> {
    match partial_order(n, depends_on) {
        (order, None) => Ok(order),
        (_, Some(cycle)) => Err(cycle),
    }
}

/// As [`dependency_order`], but always gives the items that can be ordered (those in no loop
/// and waiting for none), with one loop when some cannot.
pub fn partial_order(
    n: usize,
    depends_on: impl Fn(usize) -> Vec<usize>,
) -> (Vec<usize>, Option<Vec<usize>>) {
    let mut g = DiGraph::<(), ()>::with_capacity(n, n);
    let nodes: Vec<NodeIndex> = (0..n).map(|_| g.add_node(())).collect();
    let mut waiting = vec![0usize; n];
    for i in 0..n {
        for d in depends_on(i) {
            // An edge from what is needed to what needs it.
            g.add_edge(nodes[d], nodes[i], ());
            waiting[i] += 1;
        }
    }
    // Kahn's algorithm, always taking the smallest ready item: petgraph's toposort gives a valid
    // order but not the stable one.
    let mut ready: BinaryHeap<Reverse<usize>> =
        (0..n).filter(|&i| waiting[i] == 0).map(Reverse).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        for next in g.neighbors(nodes[i]) {
            let j = next.index();
            waiting[j] -= 1;
            if waiting[j] == 0 {
                ready.push(Reverse(j));
            }
        }
    }
    let cycle = (order.len() < n).then(|| a_loop(&g, &depends_on));
    (order, cycle)
}

/// A loop of the graph: inside a strongly connected component, every item depends on another
/// item of it, so following dependencies from its smallest item must come back to one seen.
fn a_loop(g: &DiGraph<(), ()>, depends_on: &impl Fn(usize) -> Vec<usize>) -> Vec<usize> {
    let looping = kosaraju_scc(g)
        .into_iter()
        .map(|c| c.into_iter().map(NodeIndex::index).collect::<Vec<usize>>())
        .filter(|c| c.len() > 1 || depends_on(c[0]).contains(&c[0]))
        .min_by_key(|c| c.iter().copied().min())
        .unwrap_or_default();
    let Some(&start) = looping.iter().min() else {
        return Vec::new();
    };
    let mut in_loop = vec![false; g.node_count()];
    for &i in &looping {
        in_loop[i] = true;
    }
    // Where each item sits on the path walked so far.
    let mut at = vec![usize::MAX; g.node_count()];
    let mut path = vec![start];
    at[start] = 0;
    loop {
        let current = path[path.len() - 1];
        let Some(next) = depends_on(current)
            .into_iter()
            .filter(|&d| in_loop[d])
            .min()
        else {
            return path;
        };
        if at[next] != usize::MAX {
            let mut cycle = path.split_off(at[next]);
            cycle.push(next);
            return cycle;
        }
        at[next] = path.len();
        path.push(next);
    }
}

#[cfg(test)]
mod tests {
    use super::dependency_order;

    #[test]
    fn orders_dependencies_first() {
        // 0 needs 2, 2 needs 1, 3 needs nothing.
        let deps = |i: usize| match i {
            0 => vec![2],
            2 => vec![1],
            _ => vec![],
        };
        let order = dependency_order(4, deps).unwrap();
        let at = |x| order.iter().position(|&y| y == x).unwrap();
        assert!(at(1) < at(2) && at(2) < at(0));
        assert_eq!(order.len(), 4);
        // Otherwise the items keep their own order.
        assert_eq!(order, vec![1, 2, 0, 3]);
        assert_eq!(dependency_order(3, |_| vec![]).unwrap(), vec![0, 1, 2]);
    }

    #[test]
    fn reports_a_loop_from_its_smallest_item() {
        // 3 -> 1 -> 4 -> 3 is a loop; 0 waits for it.
        let deps = |i: usize| match i {
            0 => vec![3],
            3 => vec![1],
            1 => vec![4],
            4 => vec![3],
            _ => vec![],
        };
        assert_eq!(dependency_order(5, deps), Err(vec![1, 4, 3, 1]));
        // An item that waits for itself.
        assert_eq!(
            dependency_order(2, |i| if i == 1 { vec![1] } else { vec![] }),
            Err(vec![1, 1])
        );
    }
}
