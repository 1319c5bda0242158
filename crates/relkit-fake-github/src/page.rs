//! Pagination of listings: GitHub's `per_page`/`page` and `Link` header,
//! or one of the broken modes of [`Pagination`] that a client must survive.

use serde::Deserialize;

use crate::model::Pagination;
use crate::state::Shared;

/// `?per_page=&page=` as GitHub reads them (junk counts as absent).
#[derive(Debug, Deserialize)]
pub(crate) struct PageQuery {
    per_page: Option<String>,
    page: Option<String>,
}

/// Slice `items` for `per_page`/`page` and build the `Link` header.
pub(crate) fn paginate<T>(
    sh: &Shared,
    path: &str,
    q: &PageQuery,
    items: Vec<T>,
) -> (Vec<T>, Option<String>) {
    let per_page = q
        .per_page
        .as_deref()
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(30)
        .clamp(1, sh.config.per_page_max.max(1));
    let page = q
        .page
        .as_deref()
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let link_to = |p: usize, rel: &str| {
        format!(
            "<{}{path}?per_page={per_page}&page={p}>; rel=\"{rel}\"",
            sh.api_base()
        )
    };
    let endless = |slice: Vec<T>| (slice, Some(link_to(page.saturating_add(1), "next")));
    match sh.config.pagination {
        Pagination::IgnorePage => endless(items.into_iter().take(per_page).collect()),
        Pagination::IgnorePerPage => endless(items),
        Pagination::Polite => {
            let total = items.len();
            let last = total.div_ceil(per_page).max(1);
            let start = (page - 1).saturating_mul(per_page);
            let slice: Vec<T> = items.into_iter().skip(start).take(per_page).collect();
            let mut links = Vec::new();
            if page > 1 {
                links.push(link_to((page - 1).min(last), "prev"));
            }
            if page < last {
                links.push(link_to(page + 1, "next"));
                links.push(link_to(last, "last"));
            }
            if page > 1 {
                links.push(link_to(1, "first"));
            }
            (slice, (!links.is_empty()).then(|| links.join(", ")))
        }
    }
}
