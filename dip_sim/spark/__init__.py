"""The Spark engine: the stage graph's models run on Apache Spark, Parquet in and out (docs/scale.md)."""
