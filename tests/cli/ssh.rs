//! SSH contract tests (real sshd on loopback).
