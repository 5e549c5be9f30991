"""Declares a resource from a real provider package: the runner must refuse it clearly."""

import pulumi

pulumi.CustomResource("aws:s3/bucket:Bucket", "bucket", {"bucket": "my-bucket"})
