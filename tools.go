//go:build tools

package tools

import (
	_ "github.com/bufbuild/buf/cmd/buf"
	_ "github.com/fullstorydev/grpcurl/cmd/grpcurl"
	_ "github.com/google/gnostic/cmd/protoc-gen-openapi"
	_ "github.com/grpc-ecosystem/grpc-health-probe"
	_ "github.com/rhysd/actionlint/cmd/actionlint"
	_ "google.golang.org/grpc/cmd/protoc-gen-go-grpc"
	_ "google.golang.org/protobuf/cmd/protoc-gen-go"
)
