//! Dependency order: one helper for every ordering of things that wait for other things
//! (pass-throughs after the flow they pass on, milestones after the milestones their conditions
//! read), and for the loops that make an order impossible.

use petgraph::algo::{kosaraju_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};

/// Items `0..n` ordered so that each comes after every item it depends on; or, when that is
/// impossible, one loop of dependencies `[a, b, .., a]` (a depends on b, .., which depends on
/// a), starting from the loop's smallest item.
pub fn dependency_order(
    n: usize,
    depends_on: impl Fn(usize) -> Vec<usize>,
) -> Result<Vec<usize>, Vec<usize>> {
    let mut g = DiGraph::<(), ()>::with_capacity(n, n);
    let nodes: Vec<NodeIndex> = (0..n).map(|_| g.add_node(())).collect();
    for i in 0..n {
        for d in depends_on(i) {
            // An edge from what is needed to what needs it.
            g.add_edge(nodes[d], nodes[i], ());
        }
    }
    match toposort(&g, None) {
        Ok(order) => Ok(order.into_iter().map(NodeIndex::index).collect()),
        Err(_) => Err(a_loop(&g, &depends_on)),
    }
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
    let mut path = vec![start];
    loop {
        let current = path[path.len() - 1];
        let Some(next) = depends_on(current)
            .into_iter()
            .filter(|d| looping.contains(d))
            .min()
        else {
            return path;
        };
        if let Some(at) = path.iter().position(|&x| x == next) {
            let mut cycle = path.split_off(at);
            cycle.push(next);
            return cycle;
        }
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
