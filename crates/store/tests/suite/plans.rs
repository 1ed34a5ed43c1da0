//! The hot queries' plans use indexes (issue 24) on either backend.

use super::*;

/// Issue 24: every list form and every question the engine asks on
/// start-up and per queue decision is answered from an index — its cost
/// follows the page or the releases in flight, not the releases stored.
/// The plans are the database's own, for the SQL the store sends.
pub async fn hot_queries_use_indexes(url: &str) {
    let store = Store::open(url).await.unwrap();
    let plans = store.query_plans().await.unwrap();
    let names: Vec<&str> = plans.iter().map(|p| p.name.as_str()).collect();
    for wanted in [
        "list: all",
        "list: several statuses",
        "list: product, several statuses",
        "active_release_ids",
        "count_active",
        "started_of_product",
        "stalled_queues",
        "lease_orphans",
        "lease_renew",
        "repair_finished",
        "notification_backlog",
    ] {
        assert!(names.contains(&wanted), "{wanted} not explained: {names:?}");
    }
    // The subqueries the store names itself (not tables).
    let own = |name: &str| name == "page" || name == "merged" || name.starts_with("by_status_");
    for p in &plans {
        let context = format!("{} — plan:\n{}", p.name, p.plan);
        eprintln!("{context}\n");
        match store.backend() {
            ferry_store::BackendKind::Sqlite => {
                // A status filter is an index condition, not a filter on
                // rows read in order (which reads every release for a rare
                // status).
                if p.name.starts_with("list") && p.name.contains("status") {
                    for line in p.plan.lines().filter(|l| l.contains("SEARCH releases")) {
                        assert!(line.contains("status=?"), "`{line}` in {context}");
                    }
                }
                // A page is read in its order; only the merge of the walks
                // of several statuses sorts (a page from each).
                if p.name.starts_with("list") && !p.plan.contains("MERGE (UNION ALL)") {
                    assert!(
                        !p.plan.contains("TEMP B-TREE FOR ORDER BY"),
                        "sorts every match: {context}"
                    );
                }
                for line in p.plan.lines() {
                    let Some(rest) = line.trim().strip_prefix("SCAN ") else {
                        continue;
                    };
                    let what = rest.split(' ').next().unwrap_or_default();
                    if own(what) {
                        continue;
                    }
                    // A page of the list of all products walks the primary
                    // key from its end and stops after the page.
                    let walk = p.ordered_walk
                        && rest.contains("USING INDEX")
                        && !p.plan.contains("TEMP B-TREE FOR ORDER BY");
                    assert!(walk, "reads a whole table: `{line}` in {context}");
                }
            }
            ferry_store::BackendKind::Postgres => {
                let lines: Vec<&str> = p.plan.lines().collect();
                for (i, line) in lines.iter().enumerate() {
                    assert!(!line.contains("Seq Scan"), "reads a whole table: {context}");
                    if !(line.contains("Index Scan") || line.contains("Index Only Scan"))
                        || line.contains("Bitmap")
                        || line.contains("releases_unfinished")
                        || p.ordered_walk
                    {
                        continue;
                    }
                    // The node's own lines, up to the next node.
                    let searched = lines[i + 1..]
                        .iter()
                        .take_while(|l| !l.contains("->"))
                        .any(|l| l.contains("Index Cond"));
                    assert!(searched, "walks a whole index: `{line}` in {context}");
                }
            }
        }
        if ["count_active", "started_of_product", "stalled_queues"].contains(&p.name.as_str()) {
            assert!(
                p.plan.contains("releases_unfinished"),
                "the unfinished releases' index: {context}"
            );
        }
    }
    store.close().await;
}
