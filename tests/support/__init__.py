"""Test drivers that are not part of the package: the gRPC provider-host driver and the SDK-declaration decoder."""
