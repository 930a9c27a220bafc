DROP TABLE kernel.quotas;
