// Register the device with its symmetric key over HTTPS (default), MQTT, MQTT over WebSockets, AMQP or AMQP over WebSockets.
import provisioningDevice from 'azure-iot-provisioning-device';
import provisioningHttp from 'azure-iot-provisioning-device-http';
import provisioningMqtt from 'azure-iot-provisioning-device-mqtt';
import provisioningAmqp from 'azure-iot-provisioning-device-amqp';
import symmetricKey from 'azure-iot-security-symmetric-key';

const { ProvisioningDeviceClient } = provisioningDevice;
const { SymmetricKeySecurityClient } = symmetricKey;
const transports = {
  http: provisioningHttp.Http,                                // HTTPS, port 443
  mqtt: provisioningMqtt.Mqtt, mqttws: provisioningMqtt.MqttWs,   // port 8883; WebSockets on 443
  amqp: provisioningAmqp.Amqp, amqpws: provisioningAmqp.AmqpWs,   // port 5671; WebSockets on 443
};
const Transport = transports[process.argv[2] ?? 'http'];

const { PROVISIONING_HOST, PROVISIONING_IDSCOPE, DEVICE_KEY } = process.env;
const security = new SymmetricKeySecurityClient('sensor-001', DEVICE_KEY);
const client = ProvisioningDeviceClient.create(PROVISIONING_HOST, PROVISIONING_IDSCOPE, new Transport(), security);
const result = await client.register();
console.log(result);
// { registrationId: 'sensor-001', assignedHub: '127.0.0.2', deviceId: 'sensor-001', status: 'assigned', substatus: 'initialAssignment', ... }
