// A moodstream client in Java, written from the README's "Kafka contract" section alone: the
// Apache Kafka client and Apache Avro, no moodstream code. tests/integration/test_pipeline.py
// compiles and runs it against the real stack.
//
// java MoodstreamClient BOOTSTRAP TOPIC_PREFIX CONTRACT_DIR USER_ID CLIP_WAV
//
// 1. sends the clip for USER_ID on <prefix>.voice.clips and waits for its answer on
//    <prefix>.recommendations (matched by request_id);
// 2. plays (downloads) the first recommended track through its audio_url, with a Range request;
// 3. picks that track on <prefix>.feedback, then sends the clip again until an answer comes from
//    the picked theme (step PREFERRED_THEME).
// Each result is printed as one line "RESULT <json>"; anything else on stdout is diagnostics.

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.UUID;
import java.util.stream.Collectors;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public final class MoodstreamClient {
    private final String prefix;
    private final String userId;
    private final byte[] clip;
    private final Schema clipSchema;
    private final Schema feedbackSchema;
    private final BinaryMessageEncoder<GenericRecord> clipEncoder;
    private final BinaryMessageEncoder<GenericRecord> feedbackEncoder;
    private final BinaryMessageDecoder<GenericRecord> answerDecoder;
    private final KafkaProducer<String, byte[]> producer;
    private final KafkaConsumer<String, byte[]> consumer;

    MoodstreamClient(String bootstrap, String prefix, Path contract, String userId, byte[] clip)
            throws IOException {
        this.prefix = prefix;
        this.userId = userId;
        this.clip = clip;
        // One parser per file: the standalone files hold their named types inline.
        clipSchema = parse(contract, "io.moodstream.events.VoiceClipSubmitted");
        feedbackSchema = parse(contract, "io.moodstream.events.UserFeedback");
        Schema answerSchema = parse(contract, "io.moodstream.events.Recommendation");
        clipEncoder = new BinaryMessageEncoder<>(GenericData.get(), clipSchema);
        feedbackEncoder = new BinaryMessageEncoder<>(GenericData.get(), feedbackSchema);
        answerDecoder = new BinaryMessageDecoder<>(GenericData.get(), answerSchema);

        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("acks", "all");
        p.put("max.request.size", String.valueOf(16 * 1024 * 1024)); // clips travel inline
        // Any codec Kafka defines (the test sets one; kafka-clients' own default is none).
        p.put("compression.type", System.getenv().getOrDefault("COMPRESSION_TYPE", "none"));
        producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());

        Properties c = new Properties();
        c.put("bootstrap.servers", bootstrap);
        c.put("enable.auto.commit", "false");
        c.put("max.partition.fetch.bytes", String.valueOf(16 * 1024 * 1024));
        consumer = new KafkaConsumer<>(c, new StringDeserializer(), new ByteArrayDeserializer());
        String answers = topic("recommendations");
        List<TopicPartition> partitions = new ArrayList<>();
        for (PartitionInfo info : consumer.partitionsFor(answers)) {
            partitions.add(new TopicPartition(answers, info.partition()));
        }
        consumer.assign(partitions);
        consumer.seekToEnd(partitions);
        for (TopicPartition tp : partitions) {
            consumer.position(tp); // the end offsets, taken before anything is sent
        }
    }

    private static Schema parse(Path contract, String name) throws IOException {
        return new Schema.Parser().parse(contract.resolve(name + ".standalone.avsc").toFile());
    }

    private String topic(String name) {
        return prefix + "." + name;
    }

    /** Send the clip; return its answer (waiting up to timeout). */
    GenericRecord ask(Duration timeout) throws Exception {
        String requestId = "java-" + UUID.randomUUID();
        GenericRecord event = new GenericData.Record(clipSchema);
        event.put("request_id", requestId);
        event.put("user_id", userId);
        event.put("session_id", "java-session");
        event.put("audio", ByteBuffer.wrap(clip));
        event.put("audio_key", null);
        event.put("codec", "auto");
        event.put("sample_rate", null);
        event.put("submitted_at", System.currentTimeMillis());
        byte[] value = clipEncoder.encode(event).array();
        producer.send(new ProducerRecord<>(topic("voice.clips"), userId, value)).get();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                GenericRecord answer = answerDecoder.decode(record.value());
                if (requestId.equals(answer.get("request_id").toString())) {
                    return answer;
                }
            }
        }
        throw new IllegalStateException("no answer to " + requestId + " within " + timeout);
    }

    void pick(GenericRecord answer, String trackId) throws Exception {
        GenericRecord feedback = new GenericData.Record(feedbackSchema);
        feedback.put("feedback_id", "java-" + UUID.randomUUID());
        feedback.put("user_id", userId);
        feedback.put("session_id", "java-session");
        feedback.put("request_id", answer.get("request_id").toString());
        feedback.put("action", new GenericData.EnumSymbol(feedbackSchema.getField("action").schema(), "PICK"));
        feedback.put("track_ids", List.of(trackId));
        feedback.put("created_at", System.currentTimeMillis());
        byte[] value = feedbackEncoder.encode(feedback).array();
        producer.send(new ProducerRecord<>(topic("feedback"), userId, value)).get();
    }

    static String json(String key, Object value) {
        String shown = value == null ? "null"
                : value instanceof Number || value instanceof Boolean ? value.toString()
                : "\"" + value.toString().replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
        return "\"" + key + "\": " + shown;
    }

    static void result(String... fields) {
        System.out.println("RESULT {" + String.join(", ", fields) + "}");
        System.out.flush();
    }

    @SuppressWarnings("unchecked")
    static List<GenericRecord> playlist(GenericRecord answer) {
        return (List<GenericRecord>) answer.get("playlist");
    }

    static String describe(String what, GenericRecord answer) {
        List<GenericRecord> tracks = playlist(answer);
        String ids = tracks.stream().map(t -> "\"" + t.get("track_id") + "\"").collect(Collectors.joining(", "));
        String themes = tracks.stream().map(t -> t.get("theme_id").toString()).collect(Collectors.joining(", "));
        return "{" + String.join(", ",
                json("what", what),
                json("request_id", answer.get("request_id")),
                json("step", answer.get("step")),
                json("emotion", answer.get("emotion")),
                json("theme_id", answer.get("theme_id")),
                "\"track_ids\": [" + ids + "]",
                "\"track_themes\": [" + themes + "]") + "}";
    }

    public static void main(String[] args) throws Exception {
        MoodstreamClient client = new MoodstreamClient(
                args[0], args[1], Path.of(args[2]), args[3], Files.readAllBytes(Path.of(args[4])));
        GenericRecord first = client.ask(Duration.ofSeconds(60));
        System.out.println("RESULT " + describe("first", first));
        List<GenericRecord> tracks = playlist(first);
        if (tracks.isEmpty()) {
            return;
        }
        GenericRecord track = tracks.get(0);
        // Play it: the URL needs no store credentials; ask for the first KiB, as a player would.
        HttpResponse<byte[]> played = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create(track.get("audio_url").toString()))
                        .header("Range", "bytes=0-1023").GET().build(),
                HttpResponse.BodyHandlers.ofByteArray());
        long ttlMs = (Long) track.get("audio_url_expires_at") - System.currentTimeMillis();
        result(json("what", "played"), json("track_id", track.get("track_id")),
                json("status", played.statusCode()), json("bytes", played.body().length),
                json("content_range", played.headers().firstValue("Content-Range").orElse(null)),
                json("url_valid_for_ms", ttlMs));

        client.pick(first, track.get("track_id").toString());
        result(json("what", "picked"), json("track_id", track.get("track_id")),
                json("theme_id", track.get("theme_id")));
        // Feedback and clips are two topics: ask again until the pick has been learnt.
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            GenericRecord again = client.ask(Duration.ofSeconds(60));
            if ("PREFERRED_THEME".equals(again.get("step").toString())) {
                System.out.println("RESULT " + describe("after_pick", again));
                client.producer.close();
                client.consumer.close();
                return;
            }
            Thread.sleep(1000);
        }
        throw new IllegalStateException("no PREFERRED_THEME answer within 60 s of the pick");
    }
}
