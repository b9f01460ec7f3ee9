"""Stories and incidents: one real-world event across outlets and languages, as one record.

- `kzmon.stories.features`: the signals of one article (taxonomy ids, event date, numbers).
- `kzmon.stories.cluster`: online clustering over a store (`MemoryStore`, or the stories
  index through `kzmon.stories.store.ElasticStore`).
- `kzmon.stories.incident`: incident records modelled on ACLED/UCDP.
- `kzmon.stories.batch`: the standalone batch behind ``python -m kzmon.stories cluster``.

See docs/stories.md.
"""

from __future__ import annotations

import logging

LOGGER = logging.getLogger(__name__)
