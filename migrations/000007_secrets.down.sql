DROP TABLE kernel.secrets;
