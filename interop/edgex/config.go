package main

import bootstrapConfig "github.com/edgexfoundry/go-mod-bootstrap/v4/config"

// Config is the probe's configuration, shaped like an EdgeX core service's.
type Config struct {
	Writable   WritableInfo
	Clients    bootstrapConfig.ClientsCollection
	Registry   bootstrapConfig.RegistryInfo
	Service    bootstrapConfig.ServiceInfo
	MessageBus bootstrapConfig.MessageBusInfo
}

// WritableInfo is the part EdgeX lets a configuration provider change at
// run time.
type WritableInfo struct {
	LogLevel        string
	InsecureSecrets bootstrapConfig.InsecureSecrets
	Telemetry       bootstrapConfig.TelemetryInfo
}

// UpdateFromRaw replaces the configuration with one from a provider.
func (c *Config) UpdateFromRaw(raw any) bool {
	next, ok := raw.(*Config)
	if ok {
		*c = *next
	}
	return ok
}

// EmptyWritablePtr returns an empty Writable section for a provider to fill.
func (c *Config) EmptyWritablePtr() any { return &WritableInfo{} }

// GetWritablePtr returns the Writable section.
func (c *Config) GetWritablePtr() any { return &c.Writable }

// UpdateWritableFromRaw replaces the Writable section with one from a provider.
func (c *Config) UpdateWritableFromRaw(raw any) bool {
	next, ok := raw.(*WritableInfo)
	if ok {
		c.Writable = *next
	}
	return ok
}

// GetBootstrap returns the sections the bootstrap reads.
func (c *Config) GetBootstrap() bootstrapConfig.BootstrapConfiguration {
	return bootstrapConfig.BootstrapConfiguration{
		Clients:    &c.Clients,
		Service:    &c.Service,
		Registry:   &c.Registry,
		MessageBus: &c.MessageBus,
	}
}

// GetLogLevel returns the log level.
func (c *Config) GetLogLevel() string { return c.Writable.LogLevel }

// GetRegistryInfo returns the registry settings (unused: no -r flag).
func (c *Config) GetRegistryInfo() bootstrapConfig.RegistryInfo { return c.Registry }

// GetInsecureSecrets returns the secrets used without a secret store.
func (c *Config) GetInsecureSecrets() bootstrapConfig.InsecureSecrets {
	return c.Writable.InsecureSecrets
}

// GetTelemetryInfo returns the metrics settings.
func (c *Config) GetTelemetryInfo() *bootstrapConfig.TelemetryInfo { return &c.Writable.Telemetry }
