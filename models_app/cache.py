"""The catalogue's cache namespace: Explore's responses are cached under it, and every catalogue write
(model, tag, model-tag) bumps it once its transaction commits."""

from core.cache import CacheNamespace

catalogue_cache = CacheNamespace("explore", ttl_setting="EXPLORE_CACHE_TTLS")
