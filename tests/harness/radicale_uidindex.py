"""Radicale's own storage ("multifilesystem") with an index of UIDs.

Radicale refuses a PUT whose UID another item of the collection has
(RFC 4791 no-uid-conflict); to tell, its has_uid() reads every item of
the collection, so each PUT costs the collection's size (2.5 s at 4,600
contacts) and filling one address book of 5,000 takes half an hour,
whoever fills it. This module keeps, in the server process, each
collection's href -> UID map, made from get_all() on first use and kept
up to date by this process's uploads, deletes, moves and new
collections (the tests write NEW's Radicale only through HTTP), so the
check is the same and costs a lookup. Each upload also scans the
collection's cache folders for entries of deleted items to remove (a
stat per item): an upload here leaves that housekeeping to the next
listing or delete, which do it as Radicale does.
Everything else is Radicale's.

radicale.sh loads it for a server started with MM_RADICALE_UIDINDEX=1:
[storage] type = radicale_uidindex, with tests/harness on PYTHONPATH.
"""

import threading

from radicale.storage import multifilesystem

_lock = threading.Lock()
_index = {}     # collection path -> {href: uid}


def _forget(path=None):
    with _lock:
        if path is None:
            _index.clear()
        else:
            for p in [p for p in _index if p == path or p.startswith(path + "/")]:
                del _index[p]


class Collection(multifilesystem.Collection):

    def _uids(self):
        idx = _index.get(self.path)
        if idx is None:
            idx = {item.href: item.uid for item in self.get_all()}
            _index[self.path] = idx
        return idx

    def has_uid(self, uid):
        with _lock:
            return uid in self._uids().values()

    def upload(self, href, item):
        self._uploading = True
        try:
            uploaded = super().upload(href, item)
        finally:
            self._uploading = False
        with _lock:
            idx = _index.get(self.path)
            if idx is not None:
                idx[href] = uploaded.uid
        return uploaded

    def _clean_item_cache(self):
        if not getattr(self, "_uploading", False):
            super()._clean_item_cache()

    def _clean_history(self):
        if not getattr(self, "_uploading", False):
            super()._clean_history()

    def _upload_all_nonatomic(self, items, suffix=""):
        _forget(self.path)
        return super()._upload_all_nonatomic(items, suffix)

    def delete(self, href=None):
        super().delete(href)
        if href is None:
            _forget(self.path)
        else:
            with _lock:
                idx = _index.get(self.path)
                if idx is not None:
                    idx.pop(href, None)


class Storage(multifilesystem.Storage):

    _collection_class = Collection

    def move(self, item, to_collection, to_href):
        super().move(item, to_collection, to_href)
        _forget()

    def create_collection(self, href, items=None, props=None):
        created = super().create_collection(href, items, props)
        _forget()
        return created
