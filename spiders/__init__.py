"""The crawl stage: Scrapy spiders driven by the outlet registry, with an offline replay."""
