"""The enrich stage: article extraction (enrich.extract) and tagging (enrich.tagging)."""
