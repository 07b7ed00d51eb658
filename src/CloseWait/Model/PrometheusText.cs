using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;

namespace CloseWait
{
    /// <summary>How samples that land on the same label set (two PIDs of one service, the folded "other") combine.</summary>
    internal enum MetricAggregation
    {
        /// <summary>Counts add up.</summary>
        Sum,

        /// <summary>Ages, limits and ratios: the largest stands for the group.</summary>
        Max,
    }

    /// <summary>One metric family of the Prometheus text exposition format: name, help, type and its samples by label set.</summary>
    internal sealed class MetricFamily
    {
        private readonly List<KeyValuePair<string[], double>> _samples = new List<KeyValuePair<string[], double>>();
        private readonly Dictionary<string, int> _index = new Dictionary<string, int>(StringComparer.Ordinal);

        /// <param name="labelNames">The label names every sample carries, in order; a sample's empty value leaves that label out.</param>
        internal MetricFamily(string name, string help, MetricAggregation aggregation, params string[] labelNames)
        {
            Name = name;
            Help = help;
            Aggregation = aggregation;
            LabelNames = labelNames;
        }

        internal string Name { get; }

        internal string Help { get; }

        /// <summary>Every CloseWait metric is a gauge: each file is a snapshot, and counters would reset with every run.</summary>
        internal string Type => "gauge";

        internal MetricAggregation Aggregation { get; }

        internal string[] LabelNames { get; }

        internal int Count => _samples.Count;

        internal IEnumerable<KeyValuePair<string[], double>> Samples => _samples;

        /// <summary>Adds a sample; one with the same label values combines with it by <see cref="Aggregation"/>.</summary>
        internal void Add(double value, params string[] labelValues)
        {
            if (labelValues.Length != LabelNames.Length)
            {
                throw new ArgumentException($"{Name} takes {LabelNames.Length} label value(s), not {labelValues.Length}.", nameof(labelValues));
            }

            string key = string.Join("\u0000", labelValues);
            if (_index.TryGetValue(key, out int at))
            {
                double old = _samples[at].Value;
                _samples[at] = new KeyValuePair<string[], double>(_samples[at].Key, Aggregation == MetricAggregation.Sum ? old + value : Math.Max(old, value));
                return;
            }

            _index[key] = _samples.Count;
            _samples.Add(new KeyValuePair<string[], double>((string[])labelValues.Clone(), value));
        }

        /// <summary>
        /// Keeps the samples whose <paramref name="label"/> value is in <paramref name="kept"/> and
        /// folds every other into one series with that label <see cref="PrometheusText.Other"/>
        /// combined by <see cref="Aggregation"/>. The folded series keep only the labels in
        /// <paramref name="keepLabels"/>: the others (a container, a local address) would keep their number unbounded.
        /// </summary>
        internal MetricFamily Fold(string label, ICollection<string> kept, params string[] keepLabels)
        {
            int at = Array.IndexOf(LabelNames, label);
            if (at < 0)
            {
                throw new ArgumentException($"{Name} has no label {label}.", nameof(label));
            }

            var folded = new MetricFamily(Name, Help, Aggregation, LabelNames);
            foreach (var s in _samples)
            {
                var values = s.Key;
                if (!kept.Contains(values[at]))
                {
                    values = (string[])values.Clone();
                    values[at] = PrometheusText.Other;
                    for (int i = 0; i < values.Length; i++)
                    {
                        if (i != at && Array.IndexOf(keepLabels, LabelNames[i]) < 0)
                        {
                            values[i] = string.Empty;
                        }
                    }
                }

                folded.Add(s.Value, values);
            }

            return folded;
        }
    }

    /// <summary>
    /// The Prometheus text exposition format (version 0.0.4), as the node_exporter and
    /// windows_exporter textfile collectors read it: "# HELP", "# TYPE", then one line per sample,
    /// label values escaped. https://prometheus.io/docs/instrumenting/exposition_formats/
    /// </summary>
    internal static class PrometheusText
    {
        /// <summary>The label value every folded series carries (-MaxSeries).</summary>
        internal const string Other = "other";

        /// <summary>
        /// The <paramref name="max"/> keys of the largest weight (ties by key, so a file does not
        /// flap between runs); the rest are folded by <see cref="MetricFamily.Fold"/>.
        /// </summary>
        internal static HashSet<string> Largest(IEnumerable<KeyValuePair<string, double>> weights, int max)
        {
            var totals = new Dictionary<string, double>(StringComparer.Ordinal);
            foreach (var w in weights)
            {
                totals[w.Key] = totals.TryGetValue(w.Key, out double t) ? t + w.Value : w.Value;
            }

            return new HashSet<string>(
                totals.OrderByDescending(t => t.Value).ThenBy(t => t.Key, StringComparer.Ordinal).Take(Math.Max(0, max)).Select(t => t.Key),
                StringComparer.Ordinal);
        }

        internal static void Write(TextWriter writer, IEnumerable<MetricFamily> families)
        {
            foreach (var f in families)
            {
                writer.Write("# HELP ");
                writer.Write(f.Name);
                writer.Write(' ');
                writer.Write(EscapeHelp(f.Help));
                writer.Write('\n');
                writer.Write("# TYPE ");
                writer.Write(f.Name);
                writer.Write(' ');
                writer.Write(f.Type);
                writer.Write('\n');
                foreach (var s in f.Samples)
                {
                    writer.Write(f.Name);
                    bool any = false;
                    for (int i = 0; i < f.LabelNames.Length; i++)
                    {
                        if (string.IsNullOrEmpty(s.Key[i]))
                        {
                            continue;
                        }

                        writer.Write(any ? ',' : '{');
                        any = true;
                        writer.Write(f.LabelNames[i]);
                        writer.Write("=\"");
                        writer.Write(EscapeLabelValue(s.Key[i]));
                        writer.Write('"');
                    }

                    if (any)
                    {
                        writer.Write('}');
                    }

                    writer.Write(' ');
                    writer.Write(FormatValue(s.Value));
                    writer.Write('\n');
                }
            }
        }

        internal static string ToText(IEnumerable<MetricFamily> families)
        {
            var sb = new StringWriter(CultureInfo.InvariantCulture) { NewLine = "\n" };
            Write(sb, families);
            return sb.ToString();
        }

        /// <summary>A label value: backslash, double quote and line feed escaped, as the format requires.</summary>
        internal static string EscapeLabelValue(string value)
        {
            if (value.IndexOfAny(LabelSpecials) < 0)
            {
                return value;
            }

            var sb = new StringBuilder(value.Length + 8);
            foreach (char ch in value)
            {
                switch (ch)
                {
                    case '\\':
                        sb.Append("\\\\");
                        break;
                    case '"':
                        sb.Append("\\\"");
                        break;
                    case '\n':
                        sb.Append("\\n");
                        break;
                    default:
                        sb.Append(ch);
                        break;
                }
            }

            return sb.ToString();
        }

        /// <summary>A HELP text: backslash and line feed escaped (a double quote stays as it is there).</summary>
        internal static string EscapeHelp(string help) => help.Replace("\\", "\\\\").Replace("\n", "\\n");

        /// <summary>A sample value as Go's ParseFloat reads it: whole numbers without a decimal point, NaN and ±Inf spelled out.</summary>
        internal static string FormatValue(double value)
        {
            if (double.IsNaN(value))
            {
                return "NaN";
            }

            if (double.IsPositiveInfinity(value))
            {
                return "+Inf";
            }

            if (double.IsNegativeInfinity(value))
            {
                return "-Inf";
            }

            if (value == Math.Floor(value) && Math.Abs(value) < 1e15)
            {
                return ((long)value).ToString(CultureInfo.InvariantCulture);
            }

            return value.ToString("R", CultureInfo.InvariantCulture);
        }

        /// <summary>
        /// Reads one unlabelled sample's value from an earlier file (the last success timestamp a
        /// failed run carries over); null when the file or the line is not there.
        /// </summary>
        internal static double? ReadSample(string text, string name)
        {
            foreach (var raw in text.Split('\n'))
            {
                var line = raw.TrimEnd('\r');
                if (line.StartsWith(name + " ", StringComparison.Ordinal)
                    && double.TryParse(line.Substring(name.Length + 1).Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
                {
                    return v;
                }
            }

            return null;
        }

        private static readonly char[] LabelSpecials = { '\\', '"', '\n' };
    }
}
