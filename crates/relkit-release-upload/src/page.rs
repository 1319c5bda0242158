//! Listing pages without trusting the server (issue 10.9): follow
//! `Link: rel="next"` as GitHub documents, stop on a page that repeats or
//! brings no new id, and bound the pages and items of one listing, so a
//! server that ignores `page` or `per_page` cannot make a run loop or grow.

use std::collections::HashSet;

use http::HeaderMap;
use url::Url;

/// Items asked for per page.
pub(crate) const PER_PAGE: usize = 100;

/// How far one listing may go.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    pub(crate) pages: usize,
    pub(crate) items: usize,
}

impl Bounds {
    /// Releases: 10,000 (100 pages), far beyond real repositories' counts.
    pub(crate) const RELEASES: Bounds = Bounds {
        pages: 100,
        items: 10_000,
    };
    /// Assets: GitHub holds at most 1000 per release; leave room for
    /// leftovers of failed uploads.
    pub(crate) const ASSETS: Bounds = Bounds {
        pages: 20,
        items: 2_000,
    };
}

/// Something listed with an id.
pub(crate) trait HasId {
    fn id(&self) -> u64;
}

impl HasId for crate::github::Release {
    fn id(&self) -> u64 {
        self.id
    }
}

impl HasId for crate::github::Asset {
    fn id(&self) -> u64 {
        self.id
    }
}

/// The state of one listing.
pub(crate) struct Pager {
    bounds: Bounds,
    pages: usize,
    seen: HashSet<u64>,
    asked: HashSet<String>,
}

impl Pager {
    pub(crate) fn new(bounds: Bounds, first: &str) -> Self {
        Pager {
            bounds,
            pages: 0,
            seen: HashSet::new(),
            asked: HashSet::from([first.to_owned()]),
        }
    }

    /// Take one page: the items not seen before, or why the listing must
    /// stop as a failure (too many pages or items).
    pub(crate) fn admit<T: HasId>(&mut self, items: Vec<T>) -> Result<Vec<T>, String> {
        self.pages += 1;
        if self.pages > self.bounds.pages {
            return Err(format!(
                "the server kept sending pages (more than {}); stopped",
                self.bounds.pages
            ));
        }
        let new: Vec<T> = items
            .into_iter()
            .filter(|i| self.seen.insert(i.id()))
            .collect();
        if self.seen.len() > self.bounds.items {
            return Err(format!(
                "the server listed more than {} items; stopped",
                self.bounds.items
            ));
        }
        Ok(new)
    }

    /// Whether `next` is a page not asked for yet (a repeat ends the
    /// listing); records it.
    pub(crate) fn fresh(&mut self, next: &str) -> bool {
        self.asked.insert(next.to_owned())
    }
}

/// The next page to ask for, relative to `api` (which ends with `/`):
/// `Link: rel="next"` when the server sends a `Link` header, else (a server
/// that does not paginate by links) the following page number while pages
/// come back full. Err when the link leaves the API. Public (re-exported,
/// hidden) for the fuzz target `link_header` (issue 10).
pub fn next_page(
    api: &Url,
    headers: &HeaderMap,
    path: &str,
    page: usize,
    len: usize,
) -> Result<Option<String>, String> {
    let links: Vec<&str> = headers
        .get_all(http::header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if links.is_empty() {
        return Ok((len >= PER_PAGE).then(|| page_url(path, page + 1)));
    }
    let Some(target) = links
        .iter()
        .flat_map(|l| l.split(','))
        .find_map(next_target)
    else {
        return Ok(None);
    };
    let absolute = api
        .join(target)
        .map_err(|e| format!("the next-page link `{target}` is not a URL: {e}"))?;
    let rest = absolute
        .as_str()
        .strip_prefix(api.as_str())
        .ok_or_else(|| format!("the next-page link `{target}` leaves the API URL `{api}`"))?;
    Ok(Some(format!("/{rest}")))
}

/// The URL of `<URL>; rel="next"`, if this link part is the next one.
fn next_target(part: &str) -> Option<&str> {
    let (url, params) = part.trim().split_once(';')?;
    let is_next = params.split(';').any(|p| {
        let p = p.trim();
        p == "rel=\"next\"" || p == "rel=next"
    });
    is_next.then(|| url.trim().trim_start_matches('<').trim_end_matches('>'))
}

/// `path?per_page=100&page=N`.
pub(crate) fn page_url(path: &str, page: usize) -> String {
    format!("{path}?per_page={PER_PAGE}&page={page}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Item(u64);
    impl HasId for Item {
        fn id(&self) -> u64 {
            self.0
        }
    }

    fn link(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(http::header::LINK, value.parse().unwrap());
        h
    }

    // issue 10.9: a page that repeats brings nothing new and ends the listing.
    #[test]
    fn repeated_pages_bring_nothing_new() {
        let mut p = Pager::new(Bounds::ASSETS, "/a?page=1");
        let first = p.admit(vec![Item(1), Item(2)]).unwrap();
        assert_eq!(first.len(), 2);
        assert!(p.admit(vec![Item(1), Item(2)]).unwrap().is_empty());
        let mixed = p.admit(vec![Item(2), Item(3)]).unwrap();
        assert_eq!(mixed.iter().map(HasId::id).collect::<Vec<_>>(), [3]);
        assert!(!p.fresh("/a?page=1"));
        assert!(p.fresh("/a?page=2"));
        assert!(!p.fresh("/a?page=2"));
    }

    // issue 10.9: bounded pages and items, each one line.
    #[test]
    fn pages_and_items_are_bounded() {
        let bounds = Bounds { pages: 3, items: 5 };
        let mut p = Pager::new(bounds, "/x");
        for i in 0..3 {
            p.admit(vec![Item(i)]).unwrap();
        }
        let e = p.admit(vec![Item(9)]).unwrap_err();
        assert!(e.contains("more than 3"), "{e}");
        let mut p = Pager::new(bounds, "/x");
        let e = p.admit((0..6).map(Item).collect()).unwrap_err();
        assert!(e.contains("more than 5 items"), "{e}");
    }

    #[test]
    fn next_page_follows_link_within_the_api() {
        let api = Url::parse("https://ghe.example.com/api/v3/").unwrap();
        let h = link(
            "<https://ghe.example.com/api/v3/repos/o/r/releases?per_page=100&page=2>; rel=\"next\", <https://ghe.example.com/api/v3/repos/o/r/releases?per_page=100&page=9>; rel=\"last\"",
        );
        assert_eq!(
            next_page(&api, &h, "/repos/o/r/releases", 1, 100).unwrap(),
            Some("/repos/o/r/releases?per_page=100&page=2".to_owned())
        );
        let last = link("<https://ghe.example.com/api/v3/x?page=1>; rel=\"first\"");
        assert_eq!(next_page(&api, &last, "/x", 2, 100).unwrap(), None);
        let away = link("<https://evil.example/api/v3/x?page=2>; rel=\"next\"");
        assert!(next_page(&api, &away, "/x", 1, 100).is_err());
        // No Link header: full pages go on, a short one ends.
        let none = HeaderMap::new();
        assert_eq!(
            next_page(&api, &none, "/x", 1, 100).unwrap(),
            Some("/x?per_page=100&page=2".to_owned())
        );
        assert_eq!(next_page(&api, &none, "/x", 1, 99).unwrap(), None);
    }
}
