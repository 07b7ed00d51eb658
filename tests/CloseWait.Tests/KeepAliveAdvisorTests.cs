using System;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>The load-balancer check's verdicts and recommendations, for every platform's defaults.</summary>
    public sealed class KeepAliveAdvisorTests
    {
        private static TcpKeepAliveSetting Linux(long time, long interval, long probes, string? ns = null)
        {
            var s = TcpKeepAliveSetting.FromRaw(KeepAliveRules.Linux, time, interval, probes, "", "", "");
            s.NetworkNamespace = ns;
            return s;
        }

        [Fact]
        public void LinuxDefaultsFailBehindAnAwsNlbAndGetARecommendation()
        {
            var r = KeepAliveAdvisor.Check(Linux(7200, 75, 9), TimeSpan.FromSeconds(350), KeepAliveRules.Linux);
            Assert.Equal(TcpKeepAliveVerdict.Fail, r.Verdict);
            Assert.Contains("after 02:00:00 idle", r.Reason);
            Assert.Equal(TimeSpan.FromSeconds(280), r.RecommendedTime);
            Assert.Equal(TimeSpan.FromSeconds(35), r.RecommendedInterval);
            Assert.Equal(9, r.RecommendedProbes);
            Assert.Equal(TimeSpan.FromSeconds(280 + 35 * 9), r.RecommendedDetectionTime);
            Assert.Equal(TimeSpan.Parse("02:11:15"), r.CurrentDetectionTime);
            Assert.Equal("Set-TcpKeepAliveSetting -Time 280 -Interval 35 -Persist", r.RecommendedCommand);
            Assert.Equal("Linux", r.Platform);
        }

        [Fact]
        public void AzureLoadBalancerFourMinutes()
        {
            var r = KeepAliveAdvisor.Check(Linux(7200, 75, 9), TimeSpan.FromMinutes(4), KeepAliveRules.Linux);
            Assert.Equal(TcpKeepAliveVerdict.Fail, r.Verdict);
            Assert.Equal(TimeSpan.FromSeconds(190), r.RecommendedTime);
            Assert.Equal(TimeSpan.FromSeconds(20), r.RecommendedInterval);
        }

        [Fact]
        public void AProbeInTimeWithALateRetryIsMarginal()
        {
            var r = KeepAliveAdvisor.Check(Linux(300, 75, 9), TimeSpan.FromSeconds(350), KeepAliveRules.Linux);
            Assert.Equal(TcpKeepAliveVerdict.Marginal, r.Verdict);
            Assert.Contains("00:06:15", r.Reason);
            Assert.Equal(TimeSpan.FromSeconds(280), r.RecommendedTime);
            Assert.Equal(TimeSpan.FromSeconds(35), r.RecommendedInterval);
        }

        [Fact]
        public void PassingValuesAreKeptAndNoCommandIsOffered()
        {
            var r = KeepAliveAdvisor.Check(Linux(300, 30, 5), TimeSpan.FromSeconds(350), KeepAliveRules.Linux);
            Assert.Equal(TcpKeepAliveVerdict.Pass, r.Verdict);
            Assert.Equal(TimeSpan.FromSeconds(300), r.RecommendedTime);
            Assert.Equal(TimeSpan.FromSeconds(30), r.RecommendedInterval);
            Assert.Equal(5, r.RecommendedProbes);
            Assert.Null(r.RecommendedCommand);
        }

        [Fact]
        public void ShorterCurrentValuesAreNeverLengthened()
        {
            // Interval 200 s makes the retry late; Time 100 s is already short and stays.
            var r = KeepAliveAdvisor.Check(Linux(100, 200, 9), TimeSpan.FromSeconds(280), KeepAliveRules.Linux);
            Assert.Equal(TcpKeepAliveVerdict.Marginal, r.Verdict);
            Assert.Equal(TimeSpan.FromSeconds(100), r.RecommendedTime);
            Assert.Equal(TimeSpan.FromSeconds(25), r.RecommendedInterval);
            Assert.Equal("Set-TcpKeepAliveSetting -Interval 25 -Persist", r.RecommendedCommand);
        }

        [Fact]
        public void ANamespaceRecommendationNamesTheNamespaceAndCannotPersist()
        {
            var r = KeepAliveAdvisor.Check(Linux(7200, 75, 9, "4242"), TimeSpan.FromSeconds(350), KeepAliveRules.Linux);
            Assert.Equal("Set-TcpKeepAliveSetting -Time 280 -Interval 35 -NetworkNamespace 4242", r.RecommendedCommand);
            Assert.Equal("4242", r.NetworkNamespace);
        }

        [Fact]
        public void WindowsDefaultsKeepTheirOneSecondIntervalAndTenProbes()
        {
            var current = TcpKeepAliveSetting.FromRaw(KeepAliveRules.Windows, 7_200_000, 1_000, 10, "", "", "");
            var r = KeepAliveAdvisor.Check(current, TimeSpan.FromSeconds(350), KeepAliveRules.Windows);
            Assert.Equal(TcpKeepAliveVerdict.Fail, r.Verdict);
            Assert.Equal(TimeSpan.FromSeconds(280), r.RecommendedTime);
            Assert.Equal(TimeSpan.FromSeconds(1), r.RecommendedInterval);
            Assert.Equal(10, r.RecommendedProbes);
            Assert.Equal("Set-TcpKeepAliveSetting -Time 280", r.RecommendedCommand);
        }

        [Fact]
        public void MillisecondPlatformsCanFollowShortTimeouts()
        {
            var current = TcpKeepAliveSetting.FromRaw(KeepAliveRules.MacOS, 7_200_000, 75_000, 8, "", "", "");
            var r = KeepAliveAdvisor.Check(current, TimeSpan.FromSeconds(4), KeepAliveRules.MacOS);
            Assert.Equal(TimeSpan.FromMilliseconds(3200), r.RecommendedTime);
            Assert.Equal(TimeSpan.FromMilliseconds(400), r.RecommendedInterval);
            Assert.Equal("Set-TcpKeepAliveSetting -Time 00:00:03.2000000 -Interval 00:00:00.4000000", r.RecommendedCommand);
        }

        [Theory]
        [InlineData(3, 1, 1)]
        [InlineData(5, 3, 1)]
        [InlineData(60, 48, 6)]
        [InlineData(100, 80, 10)]
        [InlineData(3600, 2880, 360)]
        public void LinuxRecommendationsAlwaysPass(long idle, long time, long interval)
        {
            var r = KeepAliveAdvisor.Check(Linux(7200, 7200, 9), TimeSpan.FromSeconds(idle), KeepAliveRules.Linux);
            Assert.Equal(TimeSpan.FromSeconds(time), r.RecommendedTime);
            Assert.Equal(TimeSpan.FromSeconds(interval), r.RecommendedInterval);
            var again = KeepAliveAdvisor.Check(Linux(time, interval, 9), TimeSpan.FromSeconds(idle), KeepAliveRules.Linux);
            Assert.Equal(TcpKeepAliveVerdict.Pass, again.Verdict);
        }

        [Fact]
        public void ATimeoutTooShortForWholeSecondsIsAnError()
        {
            var e = Assert.Throws<CloseWaitException>(() => KeepAliveAdvisor.Check(Linux(7200, 75, 9), TimeSpan.FromSeconds(2), KeepAliveRules.Linux));
            Assert.Equal(ErrorIds.IdleTimeoutTooShort, e.ErrorId);
            Assert.Contains("whole seconds", e.Message);
        }
    }
}
