// SPDX-License-Identifier: MPL-2.0

//! The broker options: those every gst-als tool shares, and the relay's client id.

use als_mqtt_args::BrokerArgs;

/// Publishing every record to an MQTT broker as well (`alspublish`).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct MqttArgs {
    #[command(flatten)]
    pub broker: BrokerArgs,
    /// MQTT client id (default: gst-als-<stream>).
    #[arg(long)]
    pub mqtt_client_id: Option<String>,
}

impl MqttArgs {
    /// The broker settings, when a broker was given.
    pub fn settings(&self) -> Option<gstals::BrokerSettings> {
        let mut settings = self.broker.settings()?;
        settings.client_id = self.mqtt_client_id.clone();
        Some(settings)
    }
}
