DROP TABLE kernel.maintenance;
